"""Fixtures the soak tests share: servers of the test's own, a private broker, and
the demo customer's Salesmanago account pointed at the test's sandbox."""

import pytest

from integrations.demo import salesmanago_demo_load
from mappings.demo import demo_load
from tests.harness.delivery import PrivateRedis


@pytest.fixture
def private_redis():
    """A redis-server of the test's own (a broker it may stop)."""
    server = PrivateRedis().start()
    yield server
    server.stop()


@pytest.fixture
def servers(tmp_path):
    """Starts servers of the test's own and stops them all at the end."""
    started = []

    def start(server):
        started.append(server)
        return server.start()

    yield start
    for server in reversed(started):
        server.stop()


@pytest.fixture
def account(sandbox):
    """The demo customer's Salesmanago account, pointed at the test's sandbox."""
    customer = demo_load()
    account = salesmanago_demo_load(customer)
    account.base_url = account.v3_base_url = sandbox.url
    account.save()
    return account
