"""Fixtures every test folder shares: the demo customer, API clients and keys, signed
requests, the Salesmanago sandbox, and a private broker with real Celery workers.
Helpers a test imports live in tests/harness/."""

import json
import shutil
from io import StringIO
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management import call_command

from datatalks.celery import app as celery_app
from ingestion.credentials import credential_cache_clear, credential_create
from integrations.demo import salesmanago_demo_load
from integrations.salesmanago.client import SalesmanagoClient
from integrations.salesmanago.sandbox import SandboxServer
from mappings.demo import demo_load

from .harness.delivery import PrivateRedis, Worker, use_broker
from .harness.faults import PrivatePostgres
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
def staff(client, django_user_model):
    """The test client logged in to the admin as a superuser."""
    user = django_user_model.objects.create_superuser("staff", "s@example.com", "pw")
    client.force_login(user)
    return client


@pytest.fixture
def as_role(client, django_user_model, db):
    """Logs ``client`` in as a new staff user in the given role's group (``None``: a
    superuser); the client."""
    call_command("setup_roles", stdout=StringIO())

    def login(role: str | None):
        if role is None:
            user = django_user_model.objects.create_superuser("root", password="pw")
        else:
            user = django_user_model.objects.create_user(
                role.split()[0].lower(), password="pw", is_staff=True
            )
            user.groups.add(Group.objects.get(name=role))
        client.force_login(user)
        return client

    return login


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
def sign_post(api_key):
    """``sign_post(url, body, headers)``: the headers that sign that POST with the demo
    customer's key (botocore's SigV4Auth), as a customer's code signs it."""
    key, secret = api_key

    def sign(url, body, headers):
        return sign_with_botocore(
            "POST", url, body, key=key, secret=secret, headers=headers
        )

    return sign


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


@pytest.fixture
def account(db, sandbox):
    """The demo customer's Salesmanago account, pointed at the test's sandbox (a test
    module that needs another account defines its own ``account``)."""
    account = salesmanago_demo_load(demo_load())
    account.base_url = account.v3_base_url = sandbox.url
    account.save()
    return account


@pytest.fixture
def private_postgres():
    """A PostgreSQL cluster of the test's own (one it may stop or crash), with an
    empty ``datatalks`` database; removed at the end."""
    server = PrivatePostgres()
    try:
        yield server.start().create_database()
    finally:
        server.remove()


@pytest.fixture
def private_redis():
    """A redis-server of the test's own (a broker it may stop); nothing points at it."""
    server = PrivateRedis().start()
    yield server
    server.stop()


@pytest.fixture
def broker():
    """A private Redis that this process's Celery app publishes to (wake-ups)."""
    original = celery_app.conf.broker_url
    server = PrivateRedis().start()
    use_broker(server.url)
    yield server
    server.stop()
    use_broker(original)


@pytest.fixture
def start_worker(broker, tmp_path):
    """Starts a Celery worker (with beat) on ``broker``: ``start_worker(**env)``;
    every worker started is stopped at the end."""
    workers = []

    def start(**env):
        log = tmp_path / f"worker{len(workers)}.log"
        worker = Worker(broker.url, log, **env).start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


def pytest_sessionfinish(session, exitstatus):
    """Removes the uploaded-files directory tests/settings.py made for this run."""
    location = Path(settings.STORAGES["files"].get("OPTIONS", {}).get("location", ""))
    if location.name.startswith("datatalks-test-files-"):
        shutil.rmtree(location, ignore_errors=True)
