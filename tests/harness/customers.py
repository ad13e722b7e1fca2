"""Customers, callers and signing clients made for a test, and the bodies they send."""

import copy

from ingestion import examples
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
    field_create(person, "customer_id", "integer", hard_id=True)
    field_create(person, "email", "email", optional=True, secondary_id=True)
    person.active = True
    person.save()
    return customer


def field_create(dpt, source: str, data_type: str, **flags) -> FieldMapping:
    """A field of ``dpt`` stored under its source name."""
    return FieldMapping.objects.create(
        data_point_type=dpt,
        source_field=source,
        cdp_field=source,
        data_type=data_type,
        **flags,
    )


def signed_client(customer: Customer, environment: str = "production") -> SignedClient:
    """A test client signing with a new key of ``customer`` in ``environment``."""
    credential, secret = credential_create(
        customer=customer, environment=environment, description="tests"
    )
    return SignedClient(credential.access_key_id, secret)


def reference_person(customer_id: int = 12345, **data) -> dict:
    """The reference's profile (ingestion.examples.PROFILE) with ``data`` changed."""
    body = copy.deepcopy(examples.PROFILE)
    body["data"].update(customer_id=customer_id, **data)
    return body


def reference_event(event_id: str = "E-1", customer_id: int = 12345) -> dict:
    """The reference's purchase event (ingestion.examples.EVENT) with its own id, of
    the person ``customer_id``."""
    body = copy.deepcopy(examples.EVENT)
    body["data"].update(event_id=event_id, customer_id=customer_id)
    return body


def demo_person(n: int, tag: str) -> dict:
    """A v3 body of the demo customer's person ``n``: its own Hard-ID and e-mail."""
    return {
        "type": "person",
        "data": {
            "customer_id": n,
            "first_name": "Load",
            "last_name": f"Test {n}",
            "email": f"{tag}{n}@load.example",
        },
    }


def demo_purchase(n: int, tag: str) -> dict:
    """A v3 body of a purchase by the demo customer's person ``n`` (it is sent once
    that person's contact is), with its own event id."""
    return {
        "type": "purchase_ev",
        "data": {
            "event_id": f"{tag.upper()}-{n}",
            "event_type": "Purchase",
            "event_datetime": "2021-03-18 11:35:24",
            "customer_id": n,
            "total_purchase_amount": "12.50",
        },
    }
