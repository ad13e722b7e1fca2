"""Per-item results of Salesmanago batch calls: which item succeeded, which failed, why.

Pure functions of the items sent and the JSON answered; the client calls them.
"""

import logging
import re
from dataclasses import dataclass
from typing import Any

from .errors import SalesmanagoError

logger = logging.getLogger(__name__)

# Reason 12 is "data trimmed": a warning on an accepted item, not a failure.
V3_WARNING_REASON = 12
# "products[3].name|..." or "events[0]: ...": how the sandbox names the item at fault.
_ITEM_INDEX = re.compile(r"^\s*(?:upsertDetails|events|products)\[(\d+)\]")


@dataclass(frozen=True)
class ItemResult:
    """What Salesmanago did with one item of a batch."""

    ok: bool
    remote_id: str | None
    message: str
    permanent: bool


def contact_results(items: list[dict], data: dict) -> list[ItemResult]:
    """Matches batchupsert's contactIds map (email -> id) back to the items."""
    raw_ids = data.get("contactIds")
    raw_ids = raw_ids if isinstance(raw_ids, dict) else {}
    ids = {str(k).lower(): v for k, v in raw_ids.items()}
    notes = _notes_by_index(data.get("message"))
    results = []
    for index, item in enumerate(items):
        emails = [e for e in _contact_emails(item) if e.lower() in ids]
        if emails:
            results.append(ItemResult(True, str(ids[emails[0].lower()]), "", False))
            continue
        email = next(iter(_contact_emails(item)), "(no email)")
        message = notes.get(index) or f"Salesmanago returned no contactId for {email}"
        results.append(ItemResult(False, None, message, True))
    return results


def _contact_emails(item: dict) -> list[str]:
    """The e-mails a contact may be answered under: the new one first after a rename."""
    contact = item.get("contact") if isinstance(item.get("contact"), dict) else {}
    found = [item.get("newEmail"), contact.get("email"), item.get("email")]
    return [e for e in found if isinstance(e, str) and e]


def event_results(items: list[dict], data: dict) -> list[ItemResult]:
    """Maps failedContacts (and per-item messages, when given) back to the events."""
    notes = _notes_by_index(data.get("message"))
    failed, reasons = _failed_contacts(data.get("failedContacts"))
    results = []
    for index, item in enumerate(items):
        keys = _event_keys(item)
        # Messages that name the item's index are exact; failedContacts names only the
        # contact, which several events of a batch may share.
        hit = index in notes if notes else bool(keys & failed)
        if not hit:
            results.append(ItemResult(True, None, "", False))
            continue
        reason = notes.get(index) or next(
            (reasons[k] for k in keys if k in reasons), ""
        )
        who = next(iter(sorted(keys)), "(no contact)")
        message = reason or f"Salesmanago did not add the event for {who}"
        results.append(ItemResult(False, None, message, True))
    _warn_on_count_mismatch(data, results)
    return results


def event_id_result(data: dict) -> ItemResult:
    """A single add's or update's answer: the event's id, when Salesmanago gave one."""
    event_id = data.get("eventId")
    return ItemResult(True, str(event_id) if event_id else None, "", False)


def _event_keys(item: dict) -> set[str]:
    return {str(item[k]).lower() for k in ("email", "contactId") if item.get(k)}


def _failed_contacts(value: Any) -> tuple[set[str], dict[str, str]]:
    """failedContacts holds e-mails/contactIds, or objects carrying them."""
    failed: set[str] = set()
    reasons: dict[str, str] = {}
    for entry in value if isinstance(value, list) else []:
        if isinstance(entry, dict):
            keys = {
                str(entry[k]).lower() for k in ("email", "contactId") if entry.get(k)
            }
            reason = "; ".join(texts(entry.get("message")))
            reasons.update(dict.fromkeys(keys, reason) if reason else {})
        else:
            keys = {str(entry).lower()}
        failed |= keys
    return failed, reasons


def _warn_on_count_mismatch(data: dict, results: list[ItemResult]) -> None:
    reported = data.get("failedAmount")
    mapped = sum(not r.ok for r in results)
    if isinstance(reported, int) and reported != mapped:
        logger.warning(
            "Salesmanago reported %s failed events; %s could be matched to items",
            reported,
            mapped,
        )


def product_results(products: list[dict], status: int, data: dict) -> list[ItemResult]:
    """Reads a v3 upsert answer: reason-12 problems are warnings, others failures."""
    problems = [p for p in _problems(data) if p[0] != V3_WARNING_REASON]
    accepted = 200 <= status < 300
    if not problems:
        return [ItemResult(True, _product_id(p), "", False) for p in products]
    by_index: dict[int, list[str]] = {}
    for _code, message in problems:
        match = _ITEM_INDEX.match(message)
        if not match or int(match.group(1)) >= len(products):
            joined = "; ".join(m for _c, m in problems)
            raise SalesmanagoError(
                f"Salesmanago rejected the products: {joined}",
                permanent=True,
                status=status,
            )
        by_index.setdefault(int(match.group(1)), []).append(message)
    return [
        _product_result(p, by_index.get(i), accepted) for i, p in enumerate(products)
    ]


def _product_result(
    product: dict, messages: list[str] | None, accepted: bool
) -> ItemResult:
    if messages:
        return ItemResult(False, _product_id(product), "; ".join(messages), True)
    if accepted:
        return ItemResult(True, _product_id(product), "", False)
    # A 400 rejects the whole request; upserting again without the bad items is safe.
    message = "Not stored: other products in the same request were rejected"
    return ItemResult(False, _product_id(product), message, False)


def _problems(data: dict) -> list[tuple[int | None, str]]:
    found = []
    for problem in data.get("problems") or []:
        if isinstance(problem, dict):
            code = _int_or_none(problem.get("reasonCode"))
            found.append((code, str(problem.get("message", ""))))
        else:
            found.append((None, str(problem)))
    return found


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _product_id(product: dict) -> str | None:
    value = product.get("productId")
    return None if value is None else str(value)


def _notes_by_index(messages: Any) -> dict[int, str]:
    """Messages that start with an item's index (``events[3]: ...``), by index."""
    notes: dict[int, str] = {}
    for text in texts(messages):
        match = _ITEM_INDEX.match(text)
        if match:
            index = int(match.group(1))
            notes[index] = f"{notes[index]}; {text}" if index in notes else text
    return notes


def texts(value: Any) -> list[str]:
    """A message field (a string or a list of them) as a list of non-empty strings."""
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value if v not in (None, "")]
    return [str(value)]
