import json

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from ingestion.caller import ApiCaller
from ingestion.credentials import credential_create
from mappings.demo import demo_load
from mappings.models import Category, Customer, DataPointType, FieldMapping, GroupKey

from .sandbox_fixtures import sandbox, sandbox_client  # noqa: F401 (shared fixtures)


@pytest.fixture
def demo(db):
    """The demo customer from load_demo."""
    return demo_load()


def caller_for(customer, environment="production", key="DTTESTKEY00000000001"):
    return ApiCaller(customer=customer, environment=environment, access_key_id=key)


@pytest.fixture
def api(demo):
    """A DRF test client authenticated as the demo customer's production key.

    Test-only: it skips SigV4 (tests/test_auth.py signs for real); the views read the
    caller from the one place authentication puts it either way.
    """
    client = APIClient()
    client.force_authenticate(user=caller_for(demo))
    return client


def make_customer(slug: str) -> Customer:
    """A customer with a default group key and a one-field-Hard-ID profile type."""
    customer = Customer.objects.create(name=slug.title(), slug=slug)
    GroupKey.objects.create(customer=customer, key="main_group", is_default=True)
    person = DataPointType.objects.create(
        customer=customer, category=Category.PROFILE, name="person"
    )
    FieldMapping.objects.create(
        data_point_type=person, source_field="customer_id", cdp_field="customer_id",
        data_type="integer", hard_id=True,
    )  # fmt: skip
    FieldMapping.objects.create(
        data_point_type=person, source_field="email", cdp_field="email",
        data_type="email", optional=True, secondary_id=True,
    )  # fmt: skip
    person.active = True
    person.save()
    return customer


@pytest.fixture
def api_key(demo):
    """A new production key of the demo customer, as (access key id, plain secret)."""
    credential, secret = credential_create(customer=demo, description="tests")
    return credential.access_key_id, secret


def sign_with_botocore(method, url, body=b"", *, key, secret, headers=None, **scope):
    """The headers botocore's SigV4Auth adds to a request, as customers' code signs it."""
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    SigV4Auth(
        Credentials(key, secret, scope.get("token")),
        scope.get("service", django_settings.DATATALKS_SIGV4_SERVICE),
        scope.get("region", django_settings.DATATALKS_SIGV4_REGION),
    ).add_auth(request)
    return dict(request.headers.items())


@pytest.fixture
def signed_post():
    """POSTs JSON signed with botocore's SigV4Auth over real HTTP; returns the response.

    ``signed_post(url, body, key, secret)``; body is a dict (sent as JSON) or bytes.
    """

    def post(url, body, key, secret, **scope):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        signed = sign_with_botocore(
            "POST", url, data, key=key, secret=secret, headers=headers, **scope
        )
        return requests.post(url, data=data, headers=signed, timeout=30)

    return post
