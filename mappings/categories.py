"""The three categories of data and the URL path of each one's endpoints.

Plain values (no model), so code that runs before Django is set up (the bench, the
API's examples) can import them.
"""

from django.db import models


class Category(models.TextChoices):
    PROFILE = "profile", "Profile"
    EVENT = "event", "Event"
    INVENTORY = "inventory", "Inventory"


# The path of each category's endpoints (POST /v2/profiles, /v3/events/batch ...).
PATH_OF_CATEGORY = {
    Category.PROFILE: "profiles",
    Category.EVENT: "events",
    Category.INVENTORY: "inventory",
}
CATEGORY_OF_PATH = {path: category for category, path in PATH_OF_CATEGORY.items()}
