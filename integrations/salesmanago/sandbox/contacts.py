"""The sandbox's v2 contact endpoints (reference §5 and §10 items 8-11, 15-16).

Each endpoint takes an authenticated V2Call and returns the keys its answer adds to
``{"success": true, "message": []}``, or raises V2Failure.
"""

from typing import Any

from .core import new_id, show
from .v2 import (
    Handler,
    V2Call,
    V2Failure,
    answer,
    apply_tags,
    basic,
    find_contact,
    save_contact,
    upsert_errors,
)


def contact_upsert(call: V2Call) -> dict:
    """Creates or updates one contact by e-mail."""
    _check(upsert_errors(call.body))
    call.count("contacts", 1)
    return answer(save_contact(call, call.body))


def contact_insert(call: V2Call) -> dict:
    """Creates a contact; fails when the e-mail is already known."""
    _check(upsert_errors(call.body))
    call.count("contacts", 1)
    email = call.body["contact"]["email"]
    if email.lower() in call.contacts:
        raise V2Failure(f"contact.email: contact {email} already exists")
    return answer(save_contact(call, call.body))


def contact_update(call: V2Call) -> dict:
    """Updates a contact named by contact.email, email or contactId; never creates."""
    _check(upsert_errors(call.body, email_required=False))
    call.count("contacts", 1)
    body = call.body
    email = (body.get("contact") or {}).get("email") or body.get("email")
    contact = find_contact(call, {"contactId": body.get("contactId"), "email": email})
    return answer(save_contact(call, body, contact=contact))


def contact_batch_upsert(call: V2Call) -> dict:
    """Upserts every valid upsertDetails item; invalid ones are named in ``message``."""
    details = _batch(call, "upsertDetails", call.options.max_batch_contacts)
    call.count("contacts", len(details))
    ids: dict[str, str] = {}
    messages: list[str] = []
    for index, item in enumerate(details):
        prefix = f"upsertDetails[{index}]."
        errors = upsert_errors(item, prefix)
        if not errors:
            try:
                contact = save_contact(call, item, prefix)
                ids[contact["email"]] = contact["contactId"]
            except V2Failure as failure:
                errors = failure.messages
        messages += errors
    return {"message": messages, "contactIds": ids}


def contact_batch_upsert_v2(call: V2Call) -> dict:
    """The asynchronous batch: done at once here, and pollable through job/status."""
    result = contact_batch_upsert(call)
    request_id = new_id()
    call.store.jobs[request_id] = {"clientId": call.account.client_id, **result}
    return {"message": result["message"], "requestId": request_id}


def job_status(call: V2Call) -> dict:
    """A finished job's file URL; every sandbox job finishes at once."""
    request_id = str(call.body.get("requestId", ""))
    job = call.store.jobs.get(request_id)
    if job is None or job["clientId"] != call.account.client_id:
        raise V2Failure(f"requestId: no job {show(request_id)}")
    return {"fileUrl": f"http://sandbox.invalid/jobs/{request_id}.json"}


def contact_delete(call: V2Call) -> dict:
    """Soft-deletes a contact, or removes it with ``permanently: true``."""
    contact = find_contact(call, call.body)
    _delete(call, contact, permanently=call.body.get("permanently") is True)
    return {}


def contact_batch_delete(call: V2Call) -> dict:
    """Deletes contacts given as e-mails or {email|contactId} objects."""
    entries = _batch(call, "contacts", call.options.max_batch_contacts)
    messages = []
    for index, entry in enumerate(entries):
        named = entry if isinstance(entry, dict) else {"email": entry}
        try:
            contact = find_contact(call, named, f"contacts[{index}].")
        except V2Failure as failure:
            messages += failure.messages
            continue
        _delete(call, contact, permanently=call.body.get("permanently") is True)
    return {"message": messages}


def _delete(call: V2Call, contact: dict, *, permanently: bool) -> None:
    """A permanent delete removes the contact and the external events it carried; a
    soft one marks it ``deleted`` (a later upsert brings it back, consent and all)."""
    if permanently:
        call.contacts.pop(contact["email"].lower(), None)
        call.store.events[:] = [
            e
            for e in call.store.events
            if (e.get("clientId"), e.get("contactId"))
            != (call.account.client_id, contact["contactId"])
        ]
    else:
        contact["deleted"] = True


def contact_has(call: V2Call) -> dict:
    """Whether an e-mail belongs to a (not deleted) contact."""
    email = call.body.get("email")
    contact = call.contacts.get(email.lower()) if isinstance(email, str) else None
    found = contact is not None and not contact["deleted"]
    return {"result": found, "contactId": contact["contactId"] if found else None}


def contact_basic(call: V2Call) -> dict:
    """Contacts by a list of e-mails, in the basic shape."""
    emails = _list(call.body.get("email"), "email")
    found = [call.contacts.get(str(e).lower()) for e in emails]
    return {"contacts": [basic(c) for c in found if c is not None]}


def contact_basic_by_id(call: V2Call) -> dict:
    """Contacts by a list of contactIds, in the basic shape."""
    ids = _list(call.body.get("id"), "id")
    client_id = call.account.client_id
    found = [call.store.contact_by_id(client_id, i) for i in ids]
    return {"contacts": [basic(c) for c in found if c is not None]}


def contact_manage_tags(call: V2Call) -> dict:
    """Adds and removes tags of one contact."""
    _check(upsert_errors(call.body, email_required=False))
    contact = find_contact(call, call.body)
    apply_tags(contact, call.body.get("tags"), call.body.get("removeTags"))
    return {"contactId": contact["contactId"]}


def _opt(field: str, value: bool) -> Handler:
    def endpoint(call: V2Call) -> dict:
        contact = find_contact(call, call.body)
        contact[field] = value
        return {"contactId": contact["contactId"]}

    endpoint.__doc__ = f"Sets {field} to {value} for one contact."
    return endpoint


def _check(errors: list[str]) -> None:
    if errors:
        raise V2Failure(*errors)


def _batch(call: V2Call, key: str, limit: int) -> list:
    """A non-empty list of at most ``limit`` items, or V2Failure."""
    items = call.body.get(key)
    if not isinstance(items, list) or not items:
        raise V2Failure(f"{key}: the list is required and cannot be empty")
    if len(items) > limit:
        raise V2Failure(f"{key}: at most {limit} items per request, got {len(items)}")
    return items


def _list(value: Any, key: str) -> list:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise V2Failure(f"{key}: must be an array")
    return value


CONTACT_ROUTES: dict[str, Handler] = {
    "/api/contact/upsert": contact_upsert,
    "/api/contact/insert": contact_insert,
    "/api/contact/update": contact_update,
    "/api/contact/batchupsert": contact_batch_upsert,
    "/api/contact/batchupsertv2": contact_batch_upsert_v2,
    "/api/job/status": job_status,
    "/api/contact/delete": contact_delete,
    "/api/contact/batchDelete": contact_batch_delete,
    "/api/contact/hasContact": contact_has,
    "/api/contact/basic": contact_basic,
    "/api/contact/basicById": contact_basic_by_id,
    "/api/contact/managetags": contact_manage_tags,
    "/api/contact/optin": _opt("optedOut", False),
    "/api/contact/optout": _opt("optedOut", True),
    "/api/contact/phoneoptin": _opt("optedOutPhone", False),
    "/api/contact/phoneoptout": _opt("optedOutPhone", True),
}
