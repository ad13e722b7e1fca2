"""The Salesmanago sandbox in a background thread on a free loopback port.

One server per test process (so pytest-xdist workers each have their own), started on
first use; the ``sandbox`` and ``sandbox_client`` fixtures in tests/conftest.py reset it
before and after every test that asks for it.
"""

import atexit

from integrations.salesmanago.client import Credentials
from integrations.salesmanago.sandbox import (
    DEMO_API_SECRET,
    DEMO_CLIENT_ID,
    DEMO_OWNER,
    DEMO_V3_API_KEY,
    SandboxServer,
)

_server: SandboxServer | None = None


def shared_sandbox() -> SandboxServer:
    """The process's sandbox server, started on first use and stopped at exit."""
    global _server
    if _server is None:
        _server = SandboxServer().start()
        atexit.register(_server.stop)
    return _server


def sandbox_credentials(url: str, *, timeout: float = 5.0, **changes) -> Credentials:
    """Credentials of the sandbox's demo account at ``url``; ``changes`` override."""
    values = {
        "base_url": url,
        "v3_base_url": url,
        "client_id": DEMO_CLIENT_ID,
        "api_secret": DEMO_API_SECRET,
        "owner": DEMO_OWNER,
        "v3_api_key": DEMO_V3_API_KEY,
        "timeout": timeout,
    }
    return Credentials(**{**values, **changes})
