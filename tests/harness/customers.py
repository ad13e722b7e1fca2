"""Customers, callers and signing clients made for a test."""

from ingestion.caller import ApiCaller
from ingestion.credentials import credential_create
from mappings.models import Category, Customer, DataPointType, FieldMapping, GroupKey

from .signing import SignedClient


def caller_for(customer, environment="production", key="DTTESTKEY00000000001"):
    return ApiCaller(customer=customer, environment=environment, access_key_id=key)


def make_customer(slug: str) -> Customer:
    """A customer with a default group key and a one-field-Hard-ID profile type."""
    customer = Customer.objects.create(name=slug.title(), slug=slug)
    GroupKey.objects.create(customer=customer, key="main_group", is_default=True)
    person = DataPointType.objects.create(
        customer=customer, category=Category.PROFILE, name="person"
    )
    FieldMapping.objects.create(
        data_point_type=person,
        source_field="customer_id",
        cdp_field="customer_id",
        data_type="integer",
        hard_id=True,
    )
    FieldMapping.objects.create(
        data_point_type=person,
        source_field="email",
        cdp_field="email",
        data_type="email",
        optional=True,
        secondary_id=True,
    )
    person.active = True
    person.save()
    return customer


def signed_client(customer: Customer, environment: str = "production") -> SignedClient:
    """A test client signing with a new key of ``customer`` in ``environment``."""
    credential, secret = credential_create(
        customer=customer, environment=environment, description="tests"
    )
    return SignedClient(credential.access_key_id, secret)
