"""The sandbox's v2 external-event endpoints (reference §6 and §10 items 12-14).

Events are stored as received, duplicates included: whether a client sent an event
twice is exactly what tests need to see.

As in Salesmanago, only the single add answers the new event's ``eventId``; the batch
add answers counts and the failed contacts, no ids (the official SDK's export, the C#
client's BatchAddContactExtEventResponse and the Python client's fixtures agree). An
update names the event by ``contactEvent.eventId``, which must be one of the account's
events; it replaces the event's fields and answers the same ``eventId`` (pixers'
EventService::update and the Magento 1 module post ``owner`` and ``contactEvent``
only, to ``/api/contact/updateContactExtEvent``).
"""

import re
from typing import Any

from .core import is_int, new_id, now_ms, show
from .v2 import Handler, V2Call, V2Failure, find_contact, save_contact

# The 25 types of the official SDK, PY and CS clients (reference §6.5).
EVENT_TYPES = frozenset(
    {
        "PURCHASE",
        "CART",
        "VISIT",
        "PHONE_CALL",
        "OTHER",
        "RESERVATION",
        "CANCELLED",
        "ACTIVATION",
        "MEETING",
        "OFFER",
        "DOWNLOAD",
        "LOGIN",
        "TRANSACTION",
        "CANCELLATION",
        "RETURN",
        "SURVEY",
        "APP_STATUS",
        "APP_TYPE_WEB",
        "APP_TYPE_MANUAL",
        "APP_TYPE_RETENTION",
        "APP_TYPE_UPSALE",
        "LOAN_STATUS",
        "LOAN_ORDER",
        "FIRST_LOAN",
        "REPEATED_LOAN",
    }
)
# Maximum lengths (reference §6.4); detail1..detail20 are 255 each.
TEXT_LIMITS = {
    "description": 2048,
    "products": 512,
    "location": 36,
    "externalId": 255,
    "shopDomain": 255,
    "contactExtEventType": 255,
}
DETAIL_LIMIT = 255
MAX_DETAIL = 20
_DETAIL = re.compile(r"^detail(\d+)$")
# Epoch milliseconds have 13 digits until 2286; fewer digits are almost surely seconds.
_MIN_MS = 10**11


def event_errors(event: Any, prefix: str = "", *, need_id: bool = False) -> list[str]:
    """Every problem of one contactEvent, each naming its path."""
    path = f"{prefix}contactEvent"
    if not isinstance(event, dict):
        return [f"{path}: is required and must be an object"]
    errors = []
    kind = event.get("contactExtEventType")
    if kind not in EVENT_TYPES:
        errors.append(f"{path}.contactExtEventType: {show(kind)} is not an event type")
    errors += _date_errors(event.get("date"), f"{path}.date")
    errors += _value_errors(event.get("value"), f"{path}.value")
    for key, value in event.items():
        errors += _text_errors(key, value, f"{path}.{key}")
    if need_id and not event.get("eventId"):
        errors.append(f"{path}.eventId: is required")
    return errors


def _date_errors(value: Any, path: str) -> list[str]:
    if value is None:
        return [f"{path}: is required"]
    if not is_int(value):
        return [f"{path}: {show(value)} must be an integer (epoch milliseconds)"]
    if value < _MIN_MS:
        return [
            f"{path}: {value} looks like seconds; the API expects epoch milliseconds"
        ]
    return []


def _value_errors(value: Any, path: str) -> list[str]:
    """A number of at most 19 digits before the decimal point."""
    if value is None:
        return []
    try:
        number = float(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        number = None
    if number is None or number != number:
        return [f"{path}: {show(value)} is not a number"]
    if abs(number) >= 10**19:
        return [f"{path}: at most 19 digits before the decimal point"]
    return []


def _text_errors(key: str, value: Any, path: str) -> list[str]:
    detail = _DETAIL.match(key)
    if detail and not 1 <= int(detail.group(1)) <= MAX_DETAIL:
        return [f"{path}: only detail1 to detail{MAX_DETAIL} exist"]
    limit = DETAIL_LIMIT if detail else TEXT_LIMITS.get(key)
    if limit is None or value is None:
        return []
    if isinstance(value, dict | list | bool):
        return [f"{path}: must be a string"]
    if len(str(value)) > limit:
        return [f"{path}: longer than {limit} characters"]
    return []


def _event_contact(call: V2Call, item: dict, prefix: str) -> dict:
    """The item's contact; created only when configured and forceOptIn is true."""
    try:
        contact = find_contact(call, item, prefix)
    except V2Failure:
        email = item.get("email")
        create = call.options.auto_create_contacts and item.get("forceOptIn") is True
        if not (create and isinstance(email, str) and not item.get("contactId")):
            raise
        return save_contact(call, {"contact": {"email": email}, "forceOptIn": True})
    if contact["deleted"]:
        raise V2Failure(f"{prefix}email: contact {contact['email']} is deleted")
    return contact


def _save_event(call: V2Call, contact: dict, contact_event: dict) -> dict:
    fields = {
        k: v for k, v in contact_event.items() if v is not None and k != "eventId"
    }
    event = {
        "eventId": new_id(),
        "clientId": call.account.client_id,
        "owner": call.owner,
        "contactId": contact["contactId"],
        "email": contact["email"],
        **fields,
        "createdOn": now_ms(),
    }
    call.store.events.append(event)
    return event


def _received(call: V2Call, item: Any) -> None:
    """Counts one event item and remembers its externalId, whatever becomes of it."""
    event = item.get("contactEvent") if isinstance(item, dict) else None
    external_id = event.get("externalId") if isinstance(event, dict) else None
    call.store.event_items.append((call.account.client_id, external_id))
    call.count("events", 1)


def _add_one(call: V2Call, item: Any, prefix: str) -> dict:
    """Validates and stores one {email|contactId, contactEvent} item, or V2Failure."""
    if not isinstance(item, dict):
        raise V2Failure(f"{prefix.rstrip('.') or 'body'}: must be a JSON object")
    errors = event_errors(item.get("contactEvent"), prefix)
    if errors:
        raise V2Failure(*errors)
    contact = _event_contact(call, item, prefix)
    return _save_event(call, contact, item["contactEvent"])


def event_add(call: V2Call) -> dict:
    """Adds one external event (both paths: /api/v2/contact/ and /api/contact/)."""
    _received(call, call.body)
    return {"eventId": _add_one(call, call.body, "")["eventId"]}


def event_batch_add(call: V2Call) -> dict:
    """Adds 1..1000 events; failures are counted and listed, success stays true."""
    events = call.body.get("events")
    limit = call.options.max_batch_events
    if not isinstance(events, list) or not events:
        raise V2Failure("events: the list cannot be empty")
    if len(events) > limit:
        raise V2Failure(
            f"events: at most {limit} events per request, got {len(events)}"
        )
    failed: list[str] = []
    messages: list[str] = []
    for index, item in enumerate(events):
        _received(call, item)
        try:
            _add_one(call, item, f"events[{index}].")
        except V2Failure as failure:
            messages += failure.messages
            failed.append(_identifier(item))
    created = len(events) - len(failed)
    return {
        "message": messages,
        "failedContacts": failed,
        "createdAmount": created,
        "failedAmount": len(failed),
    }


def _identifier(item: Any) -> str:
    if not isinstance(item, dict):
        return ""
    return str(item.get("contactId") or item.get("email") or "")


def event_update(call: V2Call) -> dict:
    """Replaces the fields of an existing event named by contactEvent.eventId."""
    event_data = call.body.get("contactEvent")
    errors = event_errors(event_data, need_id=True)
    if errors:
        raise V2Failure(*errors)
    event = _event_by_id(call, event_data["eventId"])
    call.store.event_updates.append(
        (call.account.client_id, event_data.get("externalId"))
    )
    keys = ("eventId", "clientId", "owner", "contactId", "email", "createdOn")
    kept = {k: event[k] for k in keys}
    fields = {k: v for k, v in event_data.items() if v is not None}
    event.clear()
    event.update({**fields, **kept, "modifiedOn": now_ms()})
    return {"eventId": event["eventId"]}


def event_delete(call: V2Call) -> dict:
    """Removes an event by eventId."""
    event = _event_by_id(call, call.body.get("eventId"))
    call.store.events.remove(event)
    return {}


def _event_by_id(call: V2Call, event_id: Any) -> dict:
    for event in call.store.events:
        mine = event["clientId"] == call.account.client_id
        if mine and event["eventId"] == event_id:
            return event
    raise V2Failure(f"eventId: no event {show(event_id)}")


EVENT_ROUTES: dict[str, Handler] = {
    "/api/v2/contact/addContactExtEvent": event_add,
    "/api/contact/addContactExtEvent": event_add,
    "/api/v2/contact/updateContactExtEvent": event_update,
    "/api/contact/updateContactExtEvent": event_update,
    "/api/contact/deleteContactExtEvent": event_delete,
    "/api/v2/contact/addBatchContactExtEvent": event_batch_add,
    "/api/contact/batchAddContactExtEvent": event_batch_add,
}
