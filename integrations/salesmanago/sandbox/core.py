"""Shared parts of the Salesmanago sandbox: accounts, the in-memory store, replies.

The store is plain dicts and lists; the sandbox serialises every access with one lock,
so nothing here locks on its own.
"""

import collections
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from ..limits import MAX_CONTACTS, MAX_EVENTS

DEMO_CLIENT_ID = "demo-client"
# The sandbox's published demo credentials, not a secret of any real account.
DEMO_API_SECRET = "demo-secret"  # noqa: S105
DEMO_OWNER = "owner@demo.example"
DEMO_V3_API_KEY = "demo-v3-key"
DEMO_CATALOG_ID = "5f0c8f3e-1d2b-4c6a-9e7f-000000000001"
DEMO_CATALOG = {
    "catalogId": DEMO_CATALOG_ID,
    "name": "Demo catalog",
    "currency": "SEK",
    "location": "demo",
    "setAsDefault": True,
}
REQUEST_LOG_SIZE = 200
# The v2 fields that prove identity; kept out of the request log.
AUTH_FIELDS = frozenset({"apiKey", "sha", "apiSecret"})

_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$"
)


@dataclass(frozen=True)
class SandboxAccount:
    """One Salesmanago account: v2 credentials, its users (owners) and v3 key."""

    client_id: str
    api_secret: str = field(repr=False)
    owners: tuple[str, ...]
    v3_api_key: str = field(repr=False)
    catalogs: tuple[dict, ...] = ()

    @classmethod
    def from_json(cls, data: Any) -> "SandboxAccount":
        """An account from the control API's JSON; ValueError names what is wrong."""
        if not isinstance(data, dict):
            raise ValueError("the body must be a JSON object")
        missing = [k for k in ("clientId", "apiSecret", "owners") if not data.get(k)]
        if missing:
            raise ValueError(f"missing: {', '.join(missing)}")
        catalogs = data.get("catalogs") or []
        if not isinstance(data["owners"], list) or not isinstance(catalogs, list):
            raise ValueError("owners and catalogs must be arrays")
        return cls(
            client_id=str(data["clientId"]),
            api_secret=str(data["apiSecret"]),
            owners=tuple(str(o) for o in data["owners"]),
            v3_api_key=str(data.get("v3ApiKey") or ""),
            catalogs=tuple(_catalog_config(c) for c in catalogs),
        )


def _catalog_config(data: Any) -> dict:
    if not isinstance(data, dict) or not data.get("name"):
        raise ValueError("each catalog needs at least a name")
    return {
        "catalogId": str(data.get("catalogId") or new_id()),
        "name": str(data["name"]),
        "currency": str(data.get("currency") or "EUR"),
        "location": str(data.get("location") or ""),
        "setAsDefault": bool(data.get("setAsDefault", False)),
    }


def demo_account() -> SandboxAccount:
    """The account `load_demo` points at, with its pre-created catalog."""
    return SandboxAccount(
        client_id=DEMO_CLIENT_ID,
        api_secret=DEMO_API_SECRET,
        owners=(DEMO_OWNER,),
        v3_api_key=DEMO_V3_API_KEY,
        catalogs=(DEMO_CATALOG,),
    )


@dataclass(frozen=True)
class Options:
    """Behaviour where the real API is unknown or configurable (reference §10-11)."""

    max_batch_contacts: int = MAX_CONTACTS
    max_batch_events: int = MAX_EVENTS
    # Whether an event for an unknown contact with forceOptIn creates the contact.
    auto_create_contacts: bool = False
    # 200 like the real API; 401 or 403 to test a client's robustness.
    auth_failure_status: int = 200
    # None: requestTime is not checked against the clock (the real API accepts both units).
    max_skew_seconds: float | None = None
    catalog_limit: int = 5


@dataclass
class Reply:
    """What the HTTP layer writes back; delay and disconnect come from faults."""

    status: int
    body: bytes
    content_type: str = "application/json;charset=UTF-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    disconnect: bool = False
    client_id: str = ""
    # Set while a delayed answer waits: ends the wait early (see Sandbox.reset).
    wake: threading.Event | None = None


def json_reply(status: int, data: Any, **extra: Any) -> Reply:
    """A JSON reply."""
    return Reply(status, json.dumps(data, ensure_ascii=False).encode(), **extra)


class Store:
    """Everything the sandbox holds in memory. Callers hold the sandbox's lock."""

    def __init__(self, accounts: list[SandboxAccount]):
        self.accounts = {a.client_id: a for a in accounts}
        self.clear()

    def clear(self) -> None:
        """Forgets all data and counters; accounts and their initial catalogs stay."""
        # clientId -> lower-cased e-mail -> contact
        self.contacts: dict[str, dict[str, dict]] = {}
        self.events: list[dict] = []
        self.catalogs: dict[str, dict] = {}
        self.products: dict[tuple[str, str], dict] = {}
        self.jobs: dict[str, dict] = {}
        self.calls: collections.Counter[str] = collections.Counter()
        self.received: dict[str, collections.Counter[str]] = {}
        # (clientId, externalId) of every event item processed, duplicates included.
        self.event_items: list[tuple[str, Any]] = []
        # (clientId, externalId) of every event updated, repeats included.
        self.event_updates: list[tuple[str, Any]] = []
        self.requests: collections.deque[dict] = collections.deque(
            maxlen=REQUEST_LOG_SIZE
        )
        for account in self.accounts.values():
            self._add_catalogs(account)

    def add_account(self, account: SandboxAccount) -> None:
        """Adds or replaces an account; its catalogs are created if missing."""
        self.accounts[account.client_id] = account
        self._add_catalogs(account)

    def _add_catalogs(self, account: SandboxAccount) -> None:
        for catalog in account.catalogs:
            stored = {**catalog, "clientId": account.client_id}
            self.catalogs.setdefault(catalog["catalogId"], stored)

    def account_for_v3_key(self, key: str) -> SandboxAccount | None:
        """The account a v3 API-KEY belongs to."""
        for account in self.accounts.values():
            if key and account.v3_api_key == key:
                return account
        return None

    def contacts_of(self, client_id: str) -> dict[str, dict]:
        """The account's contacts by lower-cased e-mail."""
        return self.contacts.setdefault(client_id, {})

    def contact_by_id(self, client_id: str, contact_id: Any) -> dict | None:
        """The account's contact with this contactId."""
        for contact in self.contacts_of(client_id).values():
            if contact["contactId"] == contact_id:
                return contact
        return None

    def count(self, client_id: str, kind: str, amount: int) -> None:
        """Counts items received (repeats included) per account and kind."""
        self.received.setdefault(client_id, collections.Counter())[kind] += amount

    def snapshot(self, client_id: str | None = None) -> dict:
        """Everything a test may assert on, as JSON-ready data."""

        def mine(item: dict) -> bool:
            return client_id is None or item.get("clientId") == client_id

        received: collections.Counter[str] = collections.Counter()
        for owner_id, counter in self.received.items():
            if client_id in (None, owner_id):
                received.update(counter)
        contacts = [c for per in self.contacts.values() for c in per.values()]
        return _copy(
            {
                "contacts": [c for c in contacts if mine(c)],
                "events": [e for e in self.events if mine(e)],
                "products": [p for p in self.products.values() if mine(p)],
                "catalogs": [c for c in self.catalogs.values() if mine(c)],
                "calls": dict(self.calls),
                "received": {
                    k: received[k] for k in ("contacts", "events", "products")
                },
                "event_items": [
                    x for cid, x in self.event_items if client_id in (None, cid)
                ],
                "event_updates": [
                    x for cid, x in self.event_updates if client_id in (None, cid)
                ],
                "requests": [r for r in self.requests if mine(r)],
            }
        )


def _copy(data: Any) -> Any:
    """A deep copy that also proves the data is JSON-ready."""
    return json.loads(json.dumps(data))


def new_id() -> str:
    """A Salesmanago-style identifier (a UUID)."""
    return str(uuid.uuid4())


def now_ms() -> int:
    """Now in epoch milliseconds, the unit of Salesmanago's timestamps."""
    return int(time.time() * 1000)


def is_email(value: Any) -> bool:
    """A syntactic e-mail check; the sandbox never looks up domains."""
    return isinstance(value, str) and len(value) <= 254 and bool(_EMAIL.match(value))


def is_int(value: Any) -> bool:
    """An integer that is not a boolean (JSON true is not 1 to Salesmanago)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """An int or a float, not a boolean."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def show(value: Any) -> str:
    """A value short enough for an error message."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:59] + "…"
