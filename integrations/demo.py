"""The demo customer's Salesmanago account (the local sandbox) and mappings."""

from django.conf import settings
from django.db import transaction

from mappings.models import Customer

from .models import IntegrationMapping, MappingEntry, SalesmanagoAccount
from .salesmanago.sandbox import DEMO_CATALOG_ID

# (kind, source, target, conversion, name template)
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
        defaults={
            "base_url": settings.SALESMANAGO_URL,
            "v3_base_url": settings.SALESMANAGO_URL,
            "client_id": "demo-client",
            "api_secret": "demo-secret",
            "v3_api_key": "demo-v3-key",
            "owner_email": "owner@demo.example",
            "catalog_id": DEMO_CATALOG_ID,
        },
    )
    for type_name, entries in (
        ("person", CONTACT),
        ("purchase_ev", PURCHASE),
        ("product_a", PRODUCT),
    ):
        _mapping(customer.data_point_types.get(name=type_name), entries)
    return account


def _mapping(data_point_type, entries) -> None:
    mapping, created = IntegrationMapping.objects.get_or_create(
        data_point_type=data_point_type
    )
    if not created:
        return
    for position, (kind, source, target, conversion, name_template) in enumerate(
        entries
    ):
        MappingEntry.objects.create(
            mapping=mapping,
            kind=kind,
            source=source,
            target=target,
            conversion=conversion,
            name_template=name_template,
            position=position,
        )
