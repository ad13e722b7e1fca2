"""The demo customer's Salesmanago account (the local sandbox) and mappings."""

from django.conf import settings
from django.db import transaction

from mappings.models import Customer

from .models import IntegrationMapping, MappingEntry, SalesmanagoAccount
from .salesmanago.sandbox import (
    DEMO_API_SECRET,
    DEMO_CATALOG_ID,
    DEMO_CLIENT_ID,
    DEMO_OWNER,
    DEMO_V3_API_KEY,
)

# The columns of the entries below, in order.
ENTRY_FIELDS = ("kind", "source", "target", "conversion", "name_template")
CONTACT = [
    ("string", "email", "contact.email", "", ""),
    ("dynamic", "{first_name} {last_name}", "contact.name", "", ""),
    ("string", "customer_id", "contact.externalId", "text", ""),
    ("string", "address", "contact.address.streetAddress", "", ""),
    ("string", "postal_code", "contact.address.zipCode", "", ""),
    ("string", "city", "contact.address.city", "", ""),
    ("string", "country", "contact.address.country", "", ""),
    ("string", "birth_date", "birthday", "birthday", ""),
    ("list", "tags", "tags", "", ""),
    ("dynamic", "age, is_member", "properties", "", "{field}"),
]
PURCHASE = [
    ("string", "profile.email", "email", "", ""),
    ("constant", "PURCHASE", "contactEvent.contactExtEventType", "", ""),
    ("string", "event_datetime", "contactEvent.date", "epoch_ms", ""),
    ("string", "total_purchase_amount", "contactEvent.value", "number", ""),
    ("string", "event_id", "contactEvent.externalId", "", ""),
    ("string", "event_type", "contactEvent.description", "", ""),
    ("string", "payment_method", "contactEvent.detail1", "", ""),
    ("string", "status", "contactEvent.detail2", "", ""),
    ("string", "currency", "contactEvent.detail3", "", ""),
]
PRODUCT = [
    ("string", "item_id", "productId", "", ""),
    ("string", "name", "name", "", ""),
    ("string", "category", "mainCategory", "", ""),
    ("list", "category, subcategory", "categories", "", ""),
    ("string", "brand", "customDetails.detail1", "", ""),
    ("string", "size", "customDetails.detail2", "", ""),
    ("string", "type", "customDetails.detail3", "", ""),
    ("string", "inventory_type", "customDetails.detail4", "", ""),
]


@transaction.atomic
def salesmanago_demo_load(customer: Customer) -> SalesmanagoAccount:
    """The demo account for main_group, pointing at SALESMANAGO_URL (idempotent)."""
    account, _ = SalesmanagoAccount.objects.get_or_create(
        customer=customer,
        group_key=customer.group_keys.get(key="main_group"),
        environment="production",
        defaults=demo_account_fields(settings.SALESMANAGO_URL),
    )
    for type_name, entries in (
        ("person", CONTACT),
        ("purchase_ev", PURCHASE),
        ("product_a", PRODUCT),
    ):
        _mapping(customer.data_point_types.get(name=type_name), entries)
    return account


def demo_account_fields(url: str) -> dict:
    """The fields of an account that the sandbox at ``url`` knows as its demo account."""
    return {
        "base_url": url,
        "v3_base_url": url,
        "client_id": DEMO_CLIENT_ID,
        "api_secret": DEMO_API_SECRET,
        "v3_api_key": DEMO_V3_API_KEY,
        "owner_email": DEMO_OWNER,
        "catalog_id": DEMO_CATALOG_ID,
    }


def entry_create(mapping: IntegrationMapping, position: int, entry) -> MappingEntry:
    """Saves ``entry``, a tuple of ENTRY_FIELDS, at ``position`` of ``mapping``."""
    values = dict(zip(ENTRY_FIELDS, entry, strict=True))
    return MappingEntry.objects.create(mapping=mapping, position=position, **values)


def _mapping(data_point_type, entries) -> None:
    mapping, created = IntegrationMapping.objects.get_or_create(
        data_point_type=data_point_type
    )
    if created:
        for position, entry in enumerate(entries):
            entry_create(mapping, position, entry)
