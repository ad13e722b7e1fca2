"""Fixtures every test folder shares: the demo customer, API clients and keys, signed
requests, and the Salesmanago sandbox. Helpers a test imports live in tests/harness/."""

import json
import shutil
from pathlib import Path

import pytest
import requests
from django.conf import settings

from ingestion.credentials import credential_cache_clear, credential_create
from integrations.salesmanago.client import SalesmanagoClient
from integrations.salesmanago.sandbox import SandboxServer
from mappings.demo import demo_load

from .harness.sandbox import sandbox_credentials, shared_sandbox
from .harness.signing import SignedClient, sign_with_botocore


@pytest.fixture(autouse=True)
def _no_keys_from_earlier_tests():
    """Each test starts with this process's credential cache empty: keys and customers
    kept from an earlier test's (rolled back) database are not this test's."""
    credential_cache_clear()


@pytest.fixture
def demo(db):
    """The demo customer from load_demo."""
    return demo_load()


@pytest.fixture
def api_key(demo):
    """A new production key of the demo customer, as (access key id, plain secret)."""
    credential, secret = credential_create(customer=demo, description="tests")
    return credential.access_key_id, secret


@pytest.fixture
def api(api_key):
    """A DRF test client whose every request is signed with the demo customer's
    production key (botocore's SigV4Auth), as a customer's code signs it."""
    return SignedClient(*api_key)


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


@pytest.fixture
def sandbox() -> SandboxServer:
    """A running sandbox with no data and no pending faults (demo account only)."""
    server = shared_sandbox()
    server.reset()
    yield server
    server.reset()


@pytest.fixture
def sandbox_client(sandbox) -> SalesmanagoClient:
    """A client for the sandbox's demo account."""
    return SalesmanagoClient(sandbox_credentials(sandbox.url))


def pytest_sessionfinish(session, exitstatus):
    """Removes the uploaded-files directory tests/settings.py made for this run."""
    location = Path(settings.STORAGES["files"].get("OPTIONS", {}).get("location", ""))
    if location.name.startswith("datatalks-test-files-"):
        shutil.rmtree(location, ignore_errors=True)
