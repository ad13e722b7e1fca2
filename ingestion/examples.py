"""The reference's three request examples (restored by the public docs), for the API
docs and the tests. The reference shows ``"datatalksId": "xxxxxxxx-..."`` as a
placeholder for an optional id; it is left out here because it is not a UUID."""

from mappings.categories import PATH_OF_CATEGORY, Category

PROFILE = {
    "type": "person",
    "groupKey": "main_group",
    "data": {
        "customer_id": 12345,
        "first_name": "Juliana",
        "last_name": "Crane",
        "email": "juliana.crane@fake.com",
        "age": 32,
        "postal_code": "111 17",
        "address": "Kungsbroplan 3",
        "city": "Stockholm",
        "country": "Sweden",
        "is_member": "Yes",
    },
}

EVENT = {
    "type": "purchase_ev",
    "groupKey": "main_group",
    "data": {
        "event_id": "848ASHC382392AHSJA",
        "event_type": "Purchase",
        "event_datetime": "2021-03-18 11:35:24",
        "customer_id": 12345,
        "status": "Confirmed",
        "payment_method": "Debit Card",
        "total_purchase_amount": "123.75",
        "total_purchase_discounted_amount": "112.00",
        "currency": "Euros",
        "online_purchase": "No",
        "Member_points_before_purchase": 4561,
        "purchase_points": 112,
    },
}

INVENTORY = {
    "type": "product_a",
    "groupKey": "main_group",
    "data": {
        "item_id": "AB-192910",
        "inventory_type": "Product",
        "item_modified": "2020-12-03 17:23:21",
        "name": "Milk",
        "category": "Dairy Products",
        "subcategory": "Cow Milk",
        "brand": "Milky",
        "size": "1.0L",
        "type": "Light",
    },
}

BY_CATEGORY = {
    Category.PROFILE: PROFILE,
    Category.EVENT: EVENT,
    Category.INVENTORY: INVENTORY,
}
BY_PATH = {PATH_OF_CATEGORY[category]: body for category, body in BY_CATEGORY.items()}
