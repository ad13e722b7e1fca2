"""API v2 of the sandbox: body credentials, the envelope, and the contact endpoints.

Every v2 answer is HTTP 200 with ``success`` and a ``message`` array, failures included,
as the real API does (reference §4). The event endpoints are in events.py.
"""

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .core import (
    AUTH_FIELDS,
    Options,
    Reply,
    SandboxAccount,
    Store,
    is_email,
    json_reply,
    new_id,
    now_ms,
    show,
)

NOT_AUTHENTICATED = "Not authenticated"
CONTACT_STATES = frozenset({"CUSTOMER", "PROSPECT", "PARTNER", "OTHER", "UNKNOWN"})
_CONTACT_TEXT = ("name", "phone", "fax", "company", "externalId", "state")
_TOP_TEXT = ("province", "birthday", "lang")
_ARRAYS = ("tags", "removeTags", "dictionaryProperties", "consentDetails")
_FLAGS = ("forceOptIn", "forceOptOut", "forcePhoneOptIn", "forcePhoneOptOut")
# Each force flag and the opt-out field and value it sets.
_OPT_FLAGS = {
    "forceOptIn": ("optedOut", False),
    "forceOptOut": ("optedOut", True),
    "forcePhoneOptIn": ("optedOutPhone", False),
    "forcePhoneOptOut": ("optedOutPhone", True),
}


class V2Failure(Exception):
    """Ends a v2 call with ``success: false`` and these messages."""

    def __init__(self, *messages: str):
        super().__init__(*messages)
        self.messages = list(messages)


@dataclass
class V2Call:
    """One authenticated v2 request."""

    store: Store
    options: Options
    account: SandboxAccount
    owner: str
    body: dict

    @property
    def contacts(self) -> dict[str, dict]:
        """The account's contacts by lower-cased e-mail."""
        return self.store.contacts_of(self.account.client_id)

    def count(self, kind: str, amount: int) -> None:
        """Counts items received for the state endpoint."""
        self.store.count(self.account.client_id, kind, amount)


Handler = Callable[[V2Call], dict]


def handle_v2(
    store: Store,
    options: Options,
    routes: dict[str, Handler],
    method: str,
    path: str,
    raw: bytes,
) -> Reply:
    """Authenticates a v2 request and runs its endpoint."""
    handler = routes.get(path)
    if handler is None:
        return json_reply(404, {"success": False, "message": [f"Unknown path {path}"]})
    if method != "POST":
        return json_reply(405, {"success": False, "message": ["Only POST is allowed"]})
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return json_reply(
            400, {"success": False, "message": ["Body is not a JSON object"]}
        )
    account, owner = authenticate(store, options, body)
    client_id = str(body.get("clientId", ""))
    if account is None:
        status = options.auth_failure_status
        reply = json_reply(status, {"success": False, "message": [NOT_AUTHENTICATED]})
    else:
        reply = _run(handler, V2Call(store, options, account, owner, body))
    reply.client_id = client_id
    _log(store, path, reply.status, client_id, body)
    return reply


def _run(handler: Handler, call: V2Call) -> Reply:
    try:
        extra = handler(call)
    except V2Failure as failure:
        return json_reply(200, {"success": False, "message": failure.messages})
    return json_reply(200, {"success": True, "message": [], **extra})


def _log(store: Store, path: str, status: int, client_id: str, body: dict) -> None:
    kept = {k: v for k, v in body.items() if k not in AUTH_FIELDS}
    entry = {"method": "POST", "path": path, "status": status, "clientId": client_id}
    store.requests.append({**entry, "body": kept})


def authenticate(
    store: Store, options: Options, body: dict
) -> tuple[SandboxAccount | None, str]:
    """The account and owner when the credentials hold (reference §10 items 4-6)."""
    account = store.accounts.get(str(body.get("clientId", "")))
    api_key, sha = body.get("apiKey"), body.get("sha")
    if account is None or not isinstance(api_key, str) or not isinstance(sha, str):
        return None, ""
    text = api_key + account.client_id + account.api_secret
    expected = hashlib.sha1(text.encode()).hexdigest()  # noqa: S324  the protocol's hash
    if not api_key or sha.lower() != expected:
        return None, ""
    if not _request_time_ok(body.get("requestTime"), options.max_skew_seconds):
        return None, ""
    owner = body.get("owner")
    owners = {o.lower() for o in account.owners}
    if not isinstance(owner, str) or owner.lower() not in owners:
        return None, ""
    return account, owner


def _request_time_ok(value: Any, max_skew: float | None) -> bool:
    """A positive number or numeric string, in seconds or milliseconds."""
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        return False
    if max_skew is None:
        return True
    seconds = value / 1000 if value > 10**11 else value
    return abs(time.time() - seconds) <= max_skew


# -- validation --------------------------------------------------------------------------


def upsert_errors(
    item: Any, prefix: str = "", *, email_required: bool = True
) -> list[str]:
    """Every problem of one upsert body or upsertDetails item, each naming its path."""
    if not isinstance(item, dict):
        return [f"{prefix or 'body'}: must be a JSON object"]
    contact = item.get("contact")
    if contact is not None and not isinstance(contact, dict):
        return [f"{prefix}contact: must be an object"]
    contact = contact or {}
    errors = _email_errors(
        contact.get("email"), f"{prefix}contact.email", email_required
    )
    errors += _email_errors(item.get("newEmail"), f"{prefix}newEmail", False)
    state = contact.get("state")
    if state is not None and state not in CONTACT_STATES:
        errors.append(
            f"{prefix}contact.state: {show(state)} is not one of {sorted(CONTACT_STATES)}"
        )
    if contact.get("address") is not None and not isinstance(contact["address"], dict):
        errors.append(f"{prefix}contact.address: must be an object")
    birthday = item.get("birthday")
    if birthday is not None and not _is_birthday(birthday):
        errors.append(f"{prefix}birthday: {show(birthday)} is not yyyyMMdd or MMdd")
    errors += _shape_errors(item, prefix)
    if item.get("forceOptIn") is True and item.get("forceOptOut") is True:
        errors.append(f"{prefix}forceOptIn, forceOptOut: cannot both be true")
    return errors


def _email_errors(value: Any, path: str, required: bool) -> list[str]:
    if value is None:
        return [f"{path}: is required"] if required else []
    if not is_email(value):
        return [f"{path}: {show(value)} is not a valid email address"]
    return []


def _is_birthday(value: Any) -> bool:
    return isinstance(value, str) and value.isdigit() and len(value) in (4, 8)


def _shape_errors(item: dict, prefix: str) -> list[str]:
    """Arrays, objects and flags where the API expects them."""
    errors = []
    for key in _ARRAYS:
        if item.get(key) is not None and not isinstance(item[key], list):
            errors.append(f"{prefix}{key}: must be an array")
    for key in ("tags", "removeTags"):
        if isinstance(item.get(key), list) and not all(
            isinstance(t, str) for t in item[key]
        ):
            errors.append(f"{prefix}{key}: must be an array of strings")
    properties = item.get("properties")
    if properties is not None and not isinstance(properties, dict):
        errors.append(f"{prefix}properties: must be an object")
    elif properties and any(isinstance(v, dict | list) for v in properties.values()):
        errors.append(f"{prefix}properties: values must be strings or numbers")
    for key in _FLAGS:
        if item.get(key) is not None and not isinstance(item[key], bool):
            errors.append(f"{prefix}{key}: must be true or false")
    for key in (*_CONTACT_TEXT, *_TOP_TEXT):
        if isinstance(item.get(key), dict | list):
            errors.append(f"{prefix}{key}: must be a string")
    return errors


# -- contacts ----------------------------------------------------------------------------


def save_contact(
    call: V2Call, item: dict, prefix: str = "", contact: dict | None = None
) -> dict:
    """Creates or merges one contact from a validated upsert item (reference §10.9)."""
    given = item.get("contact") or {}
    email = given.get("email") or (contact or {}).get("email")
    contact = contact or call.contacts.get(email.lower())
    new_email = item.get("newEmail")
    if (
        new_email
        and new_email.lower() != email.lower()
        and new_email.lower() in call.contacts
    ):
        raise V2Failure(
            f"{prefix}newEmail: {new_email} is already used by another contact"
        )
    if contact is None:
        contact = _new_contact(call, email)
    if new_email:
        call.contacts.pop(contact["email"].lower(), None)
        contact["email"] = new_email
        call.contacts[new_email.lower()] = contact
    _merge(contact, given, item)
    return contact


def _new_contact(call: V2Call, email: str) -> dict:
    now = now_ms()
    contact = {
        "contactId": new_id(),
        "email": email,
        "clientId": call.account.client_id,
        "owner": call.owner,
        "address": {},
        "tags": [],
        "properties": {},
        "dictionaryProperties": [],
        "consents": [],
        # Not subscribed until an opt-in: a contact created without forceOptIn (or
        # forcePhoneOptIn) is not opted in on that channel.
        "optedOut": True,
        "optedOutPhone": True,
        "deleted": False,
        "createdOn": now,
        "modifiedOn": now,
    }
    call.contacts[email.lower()] = contact
    return contact


def _merge(contact: dict, given: dict, item: dict) -> None:
    """Fields present overwrite; null means no change, as the official SDK sends them."""
    for key in _CONTACT_TEXT:
        if given.get(key) is not None:
            contact[key] = given[key]
    for key in _TOP_TEXT:
        if item.get(key) is not None:
            contact[key] = item[key]
    address = given.get("address") or {}
    contact["address"].update({k: v for k, v in address.items() if v is not None})
    properties = item.get("properties") or {}
    contact["properties"].update({k: v for k, v in properties.items() if v is not None})
    _merge_named(
        contact["dictionaryProperties"], item.get("dictionaryProperties"), "name"
    )
    _merge_named(contact["consents"], item.get("consentDetails"), "consentName")
    apply_tags(contact, item.get("tags"), item.get("removeTags"))
    for flag, (field, value) in _OPT_FLAGS.items():
        if item.get(flag) is True:
            contact[field] = value
    contact["deleted"] = False
    contact["modifiedOn"] = now_ms()


def _merge_named(stored: list, given: list | None, key: str) -> None:
    for entry in given or []:
        if isinstance(entry, dict):
            stored[:] = [s for s in stored if s.get(key) != entry.get(key)]
            stored.append(entry)


def apply_tags(contact: dict, tags: list | None, remove: list | None) -> None:
    """Adds then removes tags; a contact's tags are a set kept in arrival order."""
    for tag in tags or []:
        if tag not in contact["tags"]:
            contact["tags"].append(tag)
    contact["tags"] = [t for t in contact["tags"] if t not in (remove or [])]


def find_contact(call: V2Call, body: dict, prefix: str = "") -> dict:
    """The contact a body names by contactId or e-mail, or V2Failure."""
    contact_id = body.get("contactId")
    if contact_id:
        contact = call.store.contact_by_id(call.account.client_id, contact_id)
        if contact is None:
            raise V2Failure(f"{prefix}contactId: no contact with id {show(contact_id)}")
        return contact
    email = body.get("email")
    if not isinstance(email, str) or not email:
        raise V2Failure(f"{prefix}email or contactId: is required")
    contact = call.contacts.get(email.lower())
    if contact is None:
        raise V2Failure(f"{prefix}email: contact {email} not found")
    return contact


def answer(contact: dict) -> dict:
    """The fields a single-contact call adds to its answer."""
    extra = {"contactId": contact["contactId"]}
    if contact.get("externalId"):
        extra["externalId"] = contact["externalId"]
    return extra


def basic(contact: dict) -> dict:
    """A contact in the shape of /api/contact/basic (reference §5.6)."""
    birthday = contact.get("birthday") or ""
    keys = (
        "name",
        "email",
        "phone",
        "fax",
        "state",
        "optedOut",
        "optedOutPhone",
        "deleted",
        "company",
        "externalId",
        "address",
        "contactId",
        "modifiedOn",
        "createdOn",
    )
    return {
        **{k: contact.get(k) for k in keys},
        "score": 0,
        "invalid": False,
        "lastVisit": None,
        "birthdayYear": birthday[:4] if len(birthday) == 8 else None,
        "birthdayMonth": birthday[-4:-2] or None,
        "birthdayDay": birthday[-2:] or None,
    }
