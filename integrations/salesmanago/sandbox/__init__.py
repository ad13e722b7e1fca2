"""The local Salesmanago (reference §10): a development and test server, never imported
by the runtime client or payload builders. ``server.py`` serves it; the other modules
hold the store (``core``), API v2 (``v2``, ``contacts``, ``events``) and API v3
(``v3``, ``products``)."""

from .core import (
    DEMO_API_SECRET,
    DEMO_CATALOG_ID,
    DEMO_CLIENT_ID,
    DEMO_OWNER,
    DEMO_V3_API_KEY,
    Options,
    SandboxAccount,
)
from .server import FAULT_KINDS, Sandbox, SandboxServer

__all__ = [
    "DEMO_API_SECRET",
    "DEMO_CATALOG_ID",
    "DEMO_CLIENT_ID",
    "DEMO_OWNER",
    "DEMO_V3_API_KEY",
    "FAULT_KINDS",
    "Options",
    "Sandbox",
    "SandboxAccount",
    "SandboxServer",
]
