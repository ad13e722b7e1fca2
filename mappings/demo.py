"""The demo onboarding: customer ``demo`` with the reference examples' three types."""

from django.db import transaction

from .models import Category, Customer, DataPointType, FieldMapping, GroupKey
from .versions import mapping_fields_add, mapping_version_create

# (source field, data type, format, optional, hard_id, secondary_id)
PERSON = [
    ("customer_id", "integer", "", False, True, False),
    ("first_name", "string", "", False, False, False),
    ("last_name", "string", "", False, False, False),
    ("email", "email", "", True, False, True),
    ("age", "integer", "", True, False, False),
    ("birth_date", "date", "", True, False, False),
    ("postal_code", "string", "", True, False, False),
    ("address", "string", "", True, False, False),
    ("city", "string", "", True, False, False),
    ("country", "string", "", True, False, False),
    ("is_member", "boolean", "Yes/No", True, False, False),
    ("tags", "list", "", True, False, False),
]
PURCHASE = [
    ("event_id", "string", "", False, True, False),
    ("event_type", "string", "", False, False, False),
    ("event_datetime", "datetime", "YYYY-MM-DD HH:MM:SS", False, False, False),
    ("customer_id", "integer", "", False, False, False),
    ("total_purchase_amount", "decimal", "", False, False, False),
    ("status", "string", "", True, False, False),
    ("payment_method", "string", "", True, False, False),
    ("currency", "string", "", True, False, False),
    ("total_purchase_discounted_amount", "decimal", "", True, False, False),
    ("online_purchase", "boolean", "Yes/No", True, False, False),
    ("Member_points_before_purchase", "integer", "", True, False, False),
    ("purchase_points", "integer", "", True, False, False),
]
PRODUCT = [
    ("item_id", "string", "", False, True, False),
    ("inventory_type", "string", "", False, False, False),
    ("item_modified", "datetime", "YYYY-MM-DD HH:MM:SS", False, False, False),
    ("name", "string", "", False, False, False),
    ("category", "string", "", True, False, False),
    ("subcategory", "string", "", True, False, False),
    ("brand", "string", "", True, False, False),
    ("size", "string", "", True, False, False),
    ("type", "string", "", True, False, False),
]


@transaction.atomic
def demo_load() -> Customer:
    """Creates or restores the demo customer; running it again changes nothing."""
    customer, _ = Customer.objects.get_or_create(
        slug="demo", defaults={"name": "Demo Customer", "salesmanago_enabled": True}
    )
    GroupKey.objects.get_or_create(
        customer=customer, key="main_group", defaults={"is_default": True}
    )
    person = _type(
        customer,
        "person",
        Category.PROFILE,
        "A person (the reference's profile).",
        PERSON,
    )
    person_id = person.fields.get(source_field="customer_id")
    _type(
        customer,
        "purchase_ev",
        Category.EVENT,
        "A purchase event.",
        PURCHASE,
        references={"customer_id": person_id},
    )
    _type(
        customer, "product_a", Category.INVENTORY, "A product in the catalog.", PRODUCT
    )
    return customer


def _type(customer, name, category, description, fields, references=None):
    """The type with its fields, saved as mapping version 1 like any other first save.

    A type an older load_demo created without a version gets its version 1 now.
    """
    dpt, created = DataPointType.objects.get_or_create(
        customer=customer,
        name=name,
        # version 0: nothing saved yet, so these fields become version 1
        defaults={"category": category, "description": description, "version": 0},
    )
    if created:
        new = [
            FieldMapping(
                source_field=source,
                cdp_field=source.lower(),
                data_type=data_type,
                format=fmt,
                optional=optional,
                hard_id=hard_id,
                secondary_id=secondary,
                references=(references or {}).get(source),
            )
            for source, data_type, fmt, optional, hard_id, secondary in fields
        ]
        mapping_fields_add(data_point_type=dpt, fields=new, user=None, activate=True)
    elif not dpt.versions.exists():
        DataPointType.objects.filter(pk=dpt.pk).update(version=0)
        dpt.version = 0
        mapping_version_create(data_point_type=dpt, user=None)
    return dpt
