"""Deliveries to Salesmanago: written with the data (the outbox), claimed by one worker,
sent in batches, and recorded. Nothing accepted is dropped: a delivery ends sent, failed
(Salesmanago refused it), dead (retried until the max age) or superseded (a newer
revision of the same data point went instead)."""

import logging
import uuid
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from mappings.models import Category, Customer

from .event_sends import NOT_RESENT, EventCall, event_call, event_ids
from .models import (
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    MappingEntry,
    SalesmanagoAccount,
    SalesmanagoEvent,
)
from .outcomes import EXCERPT, failed, merged, record, retried
from .routing import routes_for
from .salesmanago.addresses import policy_from_settings
from .salesmanago.client import (
    Credentials,
    SalesmanagoClient,
    Sent,
    encode_json,
)
from .salesmanago.errors import Exchange, SalesmanagoError
from .salesmanago.limits import MAX_CONTACTS, MAX_EVENTS, MAX_PRODUCTS
from .salesmanago.payloads import (
    REQUIRED,
    Entry,
    PayloadError,
    build_item,
    require,
    with_consent,
)

logger = logging.getLogger(__name__)

_LOCK_SPACE = 7283  # the advisory-lock namespace of account senders
BATCH_SIZE = {
    Category.PROFILE: MAX_CONTACTS,
    Category.EVENT: MAX_EVENTS,
    Category.INVENTORY: MAX_PRODUCTS,
}
SEND_ORDER = [Category.PROFILE, Category.EVENT, Category.INVENTORY]
WAIT_FOR_CONTACT = timedelta(seconds=10)


_DELIVERY = Delivery._meta.db_table
# An outbox row's columns, in the order both writers below give them.
_OUTBOX_COLUMNS = (
    "id, account_id, data_point_id, revision, category, status, attempts, "
    "next_attempt_at, remote_id, last_error, request_excerpt, response_excerpt, "
    "created_at"
)
_INSERT_DELIVERIES = (
    f"INSERT INTO {_DELIVERY} ({_OUTBOX_COLUMNS}) VALUES {{rows}} "  # noqa: S608 (table name only)
    "ON CONFLICT (data_point_id, revision, account_id) DO NOTHING"
)


@dataclass(frozen=True, slots=True)
class Revision:
    """One stored revision of a data point: what the outbox needs to route it."""

    datatalks_id: uuid.UUID
    revision: int
    type_id: int
    category: str
    group_key_id: int


def deliveries_create(
    *, customer: Customer, environment: str, revisions: Iterable[Revision]
) -> list[int]:
    """The outbox rows for stored revisions; called inside the ingest transaction.

    One row per (data point revision, account) for each enabled account of the data
    point's group key and environment. Returns the accounts to wake after commit.
    """
    routes = routes_for(customer)
    db = connection
    now = db.ops.adapt_datetimefield_value(timezone.now())
    to_db = Delivery._meta.pk.get_db_prep_value
    params: list = []
    woken = set()
    for item in revisions:
        for account_id in routes.accounts_for(
            group_key_id=item.group_key_id,
            environment=environment,
            type_id=item.type_id,
        ):
            woken.add(account_id)
            params += [
                to_db(uuid.uuid4(), db),
                account_id,
                to_db(item.datatalks_id, db),
                item.revision,
                item.category,
                DeliveryStatus.PENDING,
                0,
                now,
                "",
                "",
                "",
                "",
                now,
            ]
    if params:
        rows = ", ".join(["(" + ", ".join(["%s"] * 13) + ")"] * (len(params) // 13))
        with db.cursor() as cursor:
            cursor.execute(_INSERT_DELIVERIES.format(rows=rows), params)
    return sorted(woken)


def outbox_insert_sql(*, revisions: str, routes: str, now: str) -> str:
    """PostgreSQL: an INSERT of the outbox rows of stored revisions, for a writer that
    makes them in its own statement (ingestion.writes, a data-modifying CTE).

    ``revisions`` names a relation (id, revision, type_id, group_key_id, category) of
    the revisions that changed; ``routes`` one of (type_id, group_key_id, account_id),
    as ``outbox_routes`` gives them; ``now`` the parameter of the current time. The
    statement returns the account_id of each row written (the accounts to wake).
    """
    return (
        f"INSERT INTO {_DELIVERY} ({_OUTBOX_COLUMNS}) "  # noqa: S608 (names only)
        f"SELECT gen_random_uuid(), r.account_id, v.id, v.revision, v.category, "
        f"'{DeliveryStatus.PENDING.value}', 0, {now}, '', '', '', '', {now} "
        f"FROM {revisions} v JOIN {routes} r "
        "ON r.type_id = v.type_id AND r.group_key_id = v.group_key_id "
        "ON CONFLICT (data_point_id, revision, account_id) DO NOTHING "
        "RETURNING account_id"
    )


def outbox_routes(
    *, customer: Customer, environment: str, type_ids: Iterable[int]
) -> list[tuple[int, int, int]]:
    """(type id, group key id, account id) of every account these types' data goes to,
    in this environment (compiled per configuration revision: no query once warm)."""
    routes = routes_for(customer)
    mapped = [t for t in sorted(set(type_ids)) if t in routes.mapped_types]
    return [
        (type_id, group_key_id, account_id)
        for (group_key_id, env), accounts in sorted(routes.accounts.items())
        if env == environment
        for type_id in mapped
        for account_id in accounts
    ]


# Faults that are not about the batch: the task stops and the sweeper takes over.
_NOT_THE_BATCH = (SoftTimeLimitExceeded, DatabaseError)


def delivery_preview(*, data_point) -> list[dict]:
    """The items this (stored, uncommitted) data point would send, per account.

    ``data_point`` is an ``ingestion.DataPoint`` with its profile loaded.
    """
    accounts = SalesmanagoAccount.objects.filter(
        pk__in=Delivery.objects.filter(data_point=data_point).values("account_id")
    ).select_related("customer", "group_key")
    entries = _entries([data_point.data_point_type_id]).get(
        data_point.data_point_type_id, ()
    )
    category = data_point.data_point_type.category
    profile = data_point.profile.data if data_point.profile_id else None
    previews = []
    for account in accounts:
        preview = {"account": str(account), "category": category}
        try:
            preview["item"] = _item(
                category,
                entries,
                data_point.data,
                profile=profile,
                time_zone=account.customer.time_zone,
            )
        except _NOT_THE_BATCH:
            raise
        except Exception as exc:
            preview["error"] = _not_sent(exc, data_point.pk)
        previews.append(preview)
    return previews


def account_deliver(*, account_id: int, limit: int = 1000) -> int:
    """Claims this account's due deliveries, sends them, records each result.

    Returns how many were claimed (0 means nothing was due or another worker has them).
    """
    account = SalesmanagoAccount.objects.select_related("customer").get(pk=account_id)
    with _account_lock(account_id) as locked:
        if not locked:
            return 0  # another worker is sending for this account; it follows up
        claimed = _claim(account, limit)
        if not claimed:
            return 0
        client = _client(account)
        # Erasures first: an upsert claimed with one is of a later data point (the
        # same person sent again), and must not be deleted by it.
        _erase_contacts(client, [d for d in claimed if d.kind == DeliveryKind.ERASE])
        for category in SEND_ORDER:
            batch = [
                d
                for d in claimed
                if d.category == category and d.kind == DeliveryKind.UPSERT
            ]
            if category == Category.EVENT:
                batch = _ready_events(account, batch)
            size = BATCH_SIZE[category]
            for start in range(0, len(batch), size):
                _send_guarded(client, account, category, batch[start : start + size])
        return len(claimed)


def _send_guarded(client, account, category: str, batch: list[Delivery]) -> None:
    """Sends one batch; a fault of ours in it costs its unrecorded deliveries an
    attempt (backoff and max age as usual), never the account's other batches."""
    try:
        _send(client, account, category, batch)
    except _NOT_THE_BATCH:
        raise
    except Exception as exc:
        logger.exception("delivering a %s batch failed", category)
        in_flight = Delivery.objects.filter(
            pk__in=[d.pk for d in batch],
            claim=batch[0].claim,
            status=DeliveryStatus.SENDING,
        )
        _requeue_stuck(in_flight.filter(call_started_at__isnull=False))
        waiting = set(in_flight.values_list("pk", flat=True))
        message = f"Internal error: {type(exc).__name__}: {exc}"
        _retry(
            [d for d in batch if d.pk in waiting], dict.fromkeys(waiting, message), None
        )


@contextmanager
def _account_lock(account_id: int):
    """One sender per account at a time (PostgreSQL advisory lock), so a slow account
    holds one worker process, not all of them."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_LOCK_SPACE, account_id])
        locked = cursor.fetchone()[0]
    try:
        yield locked
    finally:
        if locked:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_unlock(%s, %s)", [_LOCK_SPACE, account_id]
                )


# A client per account in each process, kept between runs so its connections stay
# open: a new one per run opened (and for HTTPS shook hands on) two waves' worth of
# connections for every 1,000 deliveries. Keyed by what it is made of, so an edited
# account or policy gets a new one.
_CLIENTS: dict[tuple, SalesmanagoClient] = {}
_KEPT_CLIENTS = 32


def _client(account: SalesmanagoAccount) -> SalesmanagoClient:
    # Two waves of event calls may be on the wire at once (_send_events).
    connections = max(10, 2 * settings.SALESMANAGO_EVENT_CALLS_AT_ONCE)
    key = (_credentials(account), policy_from_settings(), connections)
    client = _CLIENTS.get(key)
    if client is None:
        if len(_CLIENTS) >= _KEPT_CLIENTS:
            _CLIENTS.pop(next(iter(_CLIENTS))).session.close()  # the oldest
        client = SalesmanagoClient(key[0], policy=key[1], connections=connections)
        _CLIENTS[key] = client
    return client


def _credentials(account: SalesmanagoAccount) -> Credentials:
    return Credentials(
        base_url=account.base_url,
        v3_base_url=account.v3_base_url,
        client_id=account.client_id,
        api_secret=account.api_secret,
        owner=account.owner_email,
        v3_api_key=account.v3_api_key,
        timeout=settings.SALESMANAGO_TIMEOUT_SECONDS,
    )


def _claim(account: SalesmanagoAccount, limit: int) -> list[Delivery]:
    """Takes due deliveries with one conditional UPDATE; coalesces revisions."""
    token = uuid.uuid4()
    now = timezone.now()
    with transaction.atomic():
        due = (
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(
                account=account, status=DeliveryStatus.PENDING, next_attempt_at__lte=now
            )
            .order_by("created_at")
            .values_list("pk", flat=True)[:limit]
        )
        Delivery.objects.filter(pk__in=list(due), status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.SENDING, claim=token, claimed_at=now
        )
    claimed = list(
        Delivery.objects.filter(claim=token, status=DeliveryStatus.SENDING)
        .select_related("data_point__profile")
        .only(*_SENT_WITH)
        .order_by("created_at")
    )
    return _coalesce(claimed)


# What a send reads of its deliveries, their data points and profiles: the rest (the
# excerpts of earlier attempts, timestamps) was half of the claim's worker CPU.
_SENT_WITH = (
    "account_id",
    "data_point_id",
    "revision",
    "category",
    "kind",
    "status",
    "attempts",
    "created_at",
    "claim",
    "call_started_at",
    "contact_email",
    "data_point__data",
    "data_point__data_point_type_id",
    "data_point__profile_type_id",
    "data_point__profile__data",
)


def _coalesce(claimed: list[Delivery]) -> list[Delivery]:
    """Keeps the latest revision per data point: older ones, claimed or still pending,
    are superseded (the latest carries the data point's current values anyway)."""
    latest: dict = {}
    for delivery in claimed:
        current = latest.get(delivery.data_point_id)
        if current is None or delivery.revision > current.revision:
            latest[delivery.data_point_id] = delivery
    keep = {d.pk for d in latest.values()}
    older = [d.pk for d in claimed if d.pk not in keep]
    if latest:
        waiting = Delivery.objects.filter(
            account_id=claimed[0].account_id,
            status=DeliveryStatus.PENDING,
            data_point_id__in=list(latest),
        ).values_list("pk", "data_point_id", "revision")
        older += [pk for pk, dp, rev in waiting if rev < latest[dp].revision]
    if older:
        Delivery.objects.filter(pk__in=older).update(
            status=DeliveryStatus.SUPERSEDED, claim=None
        )
    return [d for d in claimed if d.pk in keep]


def _ready_events(account, events: list[Delivery]) -> list[Delivery]:
    """Events whose contact is in Salesmanago; the rest wait, without using an attempt."""
    profile_ids = {e.data_point.profile_id for e in events if e.data_point.profile_id}
    delivered = set(
        Delivery.objects.filter(
            account=account, data_point_id__in=profile_ids, status=DeliveryStatus.SENT
        ).values_list("data_point_id", flat=True)
    )
    ready, waiting = [], []
    for event in events:
        refers = event.data_point.profile_type_id is not None
        contact_missing = event.data_point.profile_id not in delivered
        (waiting if refers and contact_missing else ready).append(event)
    _wait(waiting)
    return ready


GAVE_UP_WAITING = "Gave up waiting for the contact (the linked profile)."
WAITING = "Waiting for the contact (the linked profile) to be delivered first."


def _wait(events: list[Delivery]) -> None:
    max_age = timedelta(seconds=settings.DELIVERY_MAX_AGE_SECONDS)
    now = timezone.now()
    expired = {e.pk for e in events if now - e.created_at > max_age}
    record(
        events,
        per_item={
            "status": dict.fromkeys(expired, DeliveryStatus.DEAD),
            "last_error": dict.fromkeys(expired, GAVE_UP_WAITING),
        },
        attempt=False,
        status=DeliveryStatus.PENDING,
        next_attempt_at=now + WAIT_FOR_CONTACT,
        last_error=WAITING,
    )


def _send(client, account, category: str, batch: list[Delivery]) -> None:
    items, sendable = _build(account, category, batch)
    if category == Category.PROFILE and sendable:
        try:
            items, sendable = _contacts_checked(client, items, sendable)
        except SalesmanagoError as exc:
            _record_call_failure(sendable, exc)
            return
    if category == Category.EVENT:
        _send_events(client, account, items, sendable)
        return
    items, sendable = _still_ours(items, sendable)
    if not sendable:
        return
    try:
        sent = _call(client, account, category, items)
    except SalesmanagoError as exc:
        _record_call_failure(sendable, exc)
        return
    except Exception as exc:
        # A fault of ours must not strand the batch in flight until the sweeper: it
        # is logged with its traceback and retried like a transient failure.
        logger.exception("sending a %s batch failed", category)
        _record_call_failure(
            sendable, SalesmanagoError(f"Internal error: {exc!r}", permanent=False)
        )
        return
    _record_results(sendable, sent)


NOTHING_TO_DELETE = "Not in Salesmanago: there was no contact to delete."
NO_EMAIL = (
    "Not sent: the Salesmanago mapping gives no contact e-mail for this person, so "
    "the contact to delete is unknown; delete it in Salesmanago by hand."
)


def contact_email_of(*, data_point) -> str | None:
    """The e-mail of the contact a profile (``ingestion.DataPoint``) is sent as, by
    its type's Salesmanago mapping; None when the mapping gives none."""
    entries = _entries([data_point.data_point_type_id]).get(
        data_point.data_point_type_id, ()
    )
    try:
        item = build_item(entries, data_point.data, profile=None, time_zone="UTC")
    except ValueError:
        return None
    email = (item.get("contact") or {}).get("email")
    return str(email) if email else None


def _erase_contacts(client, erases: list[Delivery]) -> None:
    """Deletes each erased person's contact, one call each (batchDelete's item shape
    is unverified); the same retries as any send. A contact Salesmanago does not
    have is recorded as erased with a note. The e-mail is dropped once it is done."""
    for delivery in erases:
        if not delivery.contact_email:
            _fail([delivery], {delivery.pk: NO_EMAIL})
            continue
        note, exchange = "", None
        try:
            if client.contacts_modified_on([delivery.contact_email]):
                exchange = client.delete_contact(delivery.contact_email)
            else:
                note = NOTHING_TO_DELETE
        except SalesmanagoError as exc:
            _record_call_failure([delivery], exc)
            continue
        record(
            [delivery],
            status=DeliveryStatus.SENT,
            sent_at=timezone.now(),
            last_error=note,
            contact_email=None,
            **_excerpts(exchange),
        )


def _send_events(client, account, items: list[dict], sendable: list[Delivery]):
    """Events one call each, in waves of SALESMANAGO_EVENT_CALLS_AT_ONCE calls at
    once: an event Salesmanago already has (its eventId is kept) is updated, any
    other is added and its eventId kept; an add sent but not answered is marked
    unknown, not added again (see event_call). A wave is marked on the wire once all its
    requests are built, then sent (see EventWave); it is recorded while the next
    wave's calls are on the wire, so at most two waves are in flight."""
    if not sendable:
        return
    ids = event_ids(
        account_id=account.pk, data_point_ids=[d.data_point_id for d in sendable]
    )
    at_once = settings.SALESMANAGO_EVENT_CALLS_AT_ONCE
    answered = None  # the wave on the wire before this one: (deliveries, wave, ids)
    for start in range(0, len(sendable), at_once):
        deliveries = sendable[start : start + at_once]
        known = [ids.get(d.data_point_id) for d in deliveries]
        wave = client.event_wave(
            list(zip(items[start : start + at_once], known, strict=True))
        )
        try:
            ours = set(_marked_ours(items[start : start + at_once], deliveries))
            wave.send(i for i, d in enumerate(deliveries) if d.pk in ours)
        finally:
            if answered is not None:  # recorded even if this wave's mark failed
                _record_event_calls(account, *answered)
        answered = (deliveries, wave, known, ours)
    _record_event_calls(account, *answered)


def _marked_ours(items: list[dict], wave: list[Delivery]) -> list:
    """Marks a wave on the wire; returns those still claimed (an erasure may have
    taken some back, see _still_ours), the only ones sent."""
    return [d.pk for d in _still_ours(items, wave)[1]]


def _record_event_calls(account, deliveries, wave, known: list, ours: set):
    """Waits for a wave's answers, then records each call's outcome and keeps the
    eventIds answered, in one statement."""
    answers = wave.answers()
    pairs = [
        (d, event_call(answer, event_id))
        for d, answer, event_id in zip(deliveries, answers, known, strict=True)
        if d.pk in ours
    ]
    deliveries = [d for d, _ in pairs]
    excerpts = {
        "request_excerpt": {
            d.pk: c.exchange.request[:EXCERPT] if c.exchange else "" for d, c in pairs
        },
        "response_excerpt": {
            d.pk: c.exchange.response[:EXCERPT] if c.exchange else "" for d, c in pairs
        },
    }
    sent = [(d, c.result) for d, c in pairs if c.result.ok]
    refused = {d.pk: c.result.message for d, c in pairs if _refused(c)}
    again = {d.pk: c.result.message for d, c in pairs if _again(c)}
    doubtful = {d.pk: c.result.message for d, c in pairs if c.in_doubt}
    retry_after = max((c.retry_after or 0 for d, c in pairs if _again(c)), default=0)
    now = timezone.now()
    per_item = merged(
        excerpts,
        {
            "status": {d.pk: DeliveryStatus.SENT for d, _ in sent},
            "sent_at": {d.pk: now for d, _ in sent},
            "last_error": {d.pk: "" for d, _ in sent},
            "remote_id": {d.pk: (r.remote_id or "")[:100] for d, r in sent},
        },
        failed(refused),
        retried([d for d in deliveries if d.pk in again], again, retry_after or None),
        {
            "status": dict.fromkeys(doubtful, DeliveryStatus.UNKNOWN),
            "last_error": doubtful,
        },
    )
    record(
        deliveries,
        per_item=per_item,
        event_ids=[
            (d.data_point_id, d.revision, r.remote_id) for d, r in sent if r.remote_id
        ],
    )


def _refused(call: EventCall) -> bool:
    return not call.result.ok and call.result.permanent and not call.in_doubt


def _again(call: EventCall) -> bool:
    return not call.result.ok and not call.result.permanent


# Salesmanago's clock and ours may differ a little.
CLOCK_MARGIN_MS = 5000


def _still_ours(items: list[dict], sendable: list[Delivery]):
    """Marks the batch as on the wire, and keeps only the deliveries still claimed: an
    erasure cancels its person's deliveries, in flight ones included, so nothing of an
    erased person is sent once the erasure has committed."""
    if not sendable:
        return items, sendable
    ours = Delivery.objects.filter(
        pk__in=[d.pk for d in sendable],
        claim=sendable[0].claim,
        status=DeliveryStatus.SENDING,
    )
    if ours.update(call_started_at=timezone.now()) == len(sendable):
        return items, sendable
    kept = set(ours.values_list("pk", flat=True))
    pairs = [(i, d) for i, d in zip(items, sendable, strict=True) if d.pk in kept]
    return [i for i, _ in pairs], [d for _, d in pairs]


def _contacts_checked(client, items: list[dict], sendable: list[Delivery]):
    """Asks Salesmanago which contacts exist (one call per batch): a new contact is
    created opted in, an existing one keeps its consent; and a contact whose last
    call's outcome is unknown is not upserted again if that call landed."""
    modified = client.contacts_modified_on([i["contact"]["email"] for i in items])
    items, sendable = _skip_confirmed(modified, items, sendable)
    return [
        with_consent(i, existing=i["contact"]["email"].lower() in modified)
        for i in items
    ], sendable


def _skip_confirmed(modified: dict, items: list[dict], sendable: list[Delivery]):
    """Contacts whose last call's outcome is unknown (the worker died during it): one
    that Salesmanago modified after that call began is recorded as sent, not upserted
    again. ``modified``: epoch ms by lower-cased e-mail of the existing contacts."""
    doubtful = {
        d.pk: int(d.call_started_at.timestamp() * 1000) - CLOCK_MARGIN_MS
        for d in sendable
        if d.call_started_at
    }
    if not doubtful:
        return items, sendable
    confirmed = [
        d
        for i, d in zip(items, sendable, strict=True)
        if d.pk in doubtful
        and modified.get(i["contact"]["email"].lower(), -1) >= doubtful[d.pk]
    ]
    record(
        confirmed,
        status=DeliveryStatus.SENT,
        sent_at=timezone.now(),
        last_error="Confirmed in Salesmanago after its worker stopped during the call.",
    )
    kept = [(i, d) for i, d in zip(items, sendable, strict=True) if d not in confirmed]
    return [i for i, _ in kept], [d for _, d in kept]


def _build(account, category, batch) -> tuple[list[dict], list[Delivery]]:
    """The items of a batch; a delivery whose item cannot be built, for any reason,
    fails alone with the reason, and its neighbours go on."""
    entries = _entries(d.data_point.data_point_type_id for d in batch)
    items, sendable, unsendable = [], [], {}
    for delivery in batch:
        dp = delivery.data_point
        try:
            item = _item(
                category,
                entries.get(dp.data_point_type_id, ()),
                dp.data,
                profile=dp.profile.data if dp.profile_id else None,
                time_zone=account.customer.time_zone,
            )
        except _NOT_THE_BATCH:
            raise
        except Exception as exc:
            unsendable[delivery.pk] = _not_sent(exc, dp.pk)
            continue
        items.append(item)
        sendable.append(delivery)
    _fail([d for d in batch if d.pk in unsendable], unsendable)
    return items, sendable


def _item(category: str, entries, values: dict, *, profile, time_zone: str) -> dict:
    """One data point's item, checked to be sendable on its own: what cannot be sent
    (no email, a value JSON cannot hold) must not sink the whole call."""
    item = build_item(entries, values, profile=profile, time_zone=time_zone)
    item = _finish(category, require(item, *REQUIRED[category]))
    encode_json(item)
    return item


def _not_sent(exc: Exception, data_point_id) -> str:
    """The reason an item was not built; a fault of ours is logged with its trace."""
    if isinstance(exc, ValueError):  # PayloadError and the conversions' errors
        return f"Not sent: {exc}"
    logger.exception("building the item of data point %s failed", data_point_id)
    return f"Not sent: {type(exc).__name__}: {exc}"


def _finish(category: str, item: dict) -> dict:
    if category == Category.EVENT and not (item.get("email") or item.get("contactId")):
        raise PayloadError(
            "the event has no contact email; map email from profile.email"
        )
    if category == Category.INVENTORY:
        item.setdefault("mainCategory", "Uncategorized")  # required by API v3
    return item


def _entries(type_ids: Iterable[int]) -> dict[int, list[Entry]]:
    rows = MappingEntry.objects.filter(
        mapping__data_point_type_id__in=set(type_ids), mapping__enabled=True
    ).select_related("mapping")
    entries: dict[int, list[Entry]] = {}
    for row in rows:
        entries.setdefault(row.mapping.data_point_type_id, []).append(
            Entry(row.kind, row.source, row.target, row.conversion, row.name_template)
        )
    return entries


def _call(client, account, category: str, items: list[dict]) -> Sent:
    if category == Category.PROFILE:
        return client.upsert_contacts(items)
    if not account.catalog_id:
        raise SalesmanagoError("The account has no product catalog id.", permanent=True)
    return client.upsert_products(account.catalog_id, items)


def _excerpts(exchange: Exchange | None) -> dict:
    if exchange is None:  # no call was made
        return {"request_excerpt": "", "response_excerpt": ""}
    return {
        "request_excerpt": exchange.request[:EXCERPT],
        "response_excerpt": exchange.response[:EXCERPT],
    }


def _record_results(deliveries: list[Delivery], sent: Sent):
    """Records a call's outcome for every item at once (one statement): a worker that
    dies now leaves all of them in flight or none."""
    pairs = list(zip(deliveries, sent.results, strict=True))
    ok = [(d, r) for d, r in pairs if r.ok]
    refused = {d.pk: r.message for d, r in pairs if not r.ok and r.permanent}
    again = {d.pk: r.message for d, r in pairs if not r.ok and not r.permanent}
    now = timezone.now()
    per_item = merged(
        {
            "status": {d.pk: DeliveryStatus.SENT for d, _ in ok},
            "sent_at": {d.pk: now for d, _ in ok},
            "last_error": {d.pk: "" for d, _ in ok},
            "remote_id": {d.pk: (r.remote_id or "")[:100] for d, r in ok},
        },
        failed(refused),
        retried([d for d in deliveries if d.pk in again], again, None),
    )
    record(deliveries, per_item=per_item, **_excerpts(sent.exchange))


def _record_call_failure(deliveries, exc: SalesmanagoError) -> None:
    logger.warning(
        "salesmanago call failed (%s): %s",
        "permanent" if exc.permanent else "transient",
        exc.message,
    )
    messages = {d.pk: exc.message for d in deliveries}
    if exc.permanent:
        _fail(deliveries, messages, **_excerpts(exc.exchange))
    else:
        _retry(deliveries, messages, exc.retry_after, **_excerpts(exc.exchange))


def _fail(
    deliveries: list[Delivery], messages: dict, per_item: dict | None = None, **fields
) -> None:
    record(deliveries, per_item=merged(per_item or {}, failed(messages)), **fields)


def _retry(
    deliveries: list[Delivery],
    messages: dict,
    retry_after,
    per_item: dict | None = None,
    **fields,
) -> None:
    again = retried(deliveries, messages, retry_after)
    record(deliveries, per_item=merged(per_item or {}, again), **fields)


IN_DOUBT = (
    "The worker stopped during the call, so Salesmanago may have this event already. "
    + NOT_RESENT
)


STOPPED = "The worker stopped during the send; queued again (the attempt counts)."
GAVE_UP = "The worker stopped during the send, and the delivery is past its max age."


def deliveries_sweep() -> list[int]:
    """Re-queues sends whose worker stopped, and returns the accounts with due work.

    Each stuck send costs an attempt, and one past the max age is dead, so a send that
    stops its worker every time ends instead of looping. A stuck send that never
    reached the wire, or a product (an upsert), goes out again. A contact that was on
    the wire is looked up in Salesmanago before it is sent again (see
    _skip_confirmed). An event added on the wire is marked unknown: Salesmanago
    cannot be asked about events, and a duplicate fires automations twice. An event
    update goes out again: it names its event, so twice changes the same event.
    """
    stuck = Delivery.objects.filter(
        status=DeliveryStatus.SENDING,
        claimed_at__lt=timezone.now()
        - timedelta(seconds=settings.DELIVERY_STUCK_SECONDS),
    )
    released, doubtful, dead = _requeue_stuck(stuck)
    if released or doubtful or dead:
        logger.warning(
            "worker stopped: %d deliveries queued again, %d events of unknown "
            "outcome, %d dead (past the max age)",
            released,
            doubtful,
            dead,
        )
    return list(
        Delivery.objects.filter(
            status=DeliveryStatus.PENDING, next_attempt_at__lte=timezone.now()
        )
        .values_list("account_id", flat=True)
        .distinct()
        .order_by()
    )


def _requeue_stuck(stuck) -> tuple[int, int, int]:
    """Releases in-flight rows whose sender stopped; each costs an attempt.

    Returns (queued again, unknown, dead).
    """
    now = timezone.now()
    counted = {"claim": None, "attempts": F("attempts") + 1}
    on_the_wire = Q(call_started_at__isnull=False)
    # An update names its event: sent twice, it changes the same event twice.
    known = SalesmanagoEvent.objects.filter(
        account_id=OuterRef("account_id"), data_point_id=OuterRef("data_point_id")
    )
    doubtful = (
        stuck.filter(on_the_wire, category=Category.EVENT)
        .exclude(Exists(known))
        .update(status=DeliveryStatus.UNKNOWN, last_error=IN_DOUBT, **counted)
    )
    max_age = timedelta(seconds=settings.DELIVERY_MAX_AGE_SECONDS)
    dead = stuck.filter(created_at__lt=now - max_age).update(
        status=DeliveryStatus.DEAD, call_started_at=None, last_error=GAVE_UP, **counted
    )
    again = {"status": DeliveryStatus.PENDING, "next_attempt_at": now, **counted}
    # Contacts keep call_started_at: the next sender asks Salesmanago before resending.
    released = stuck.filter(on_the_wire, category=Category.PROFILE).update(
        last_error=STOPPED, **again
    ) + stuck.exclude(on_the_wire, category=Category.PROFILE).update(
        call_started_at=None, last_error=STOPPED, **again
    )
    return released, doubtful, dead


RETRYABLE = [
    DeliveryStatus.FAILED,
    DeliveryStatus.DEAD,
    DeliveryStatus.PENDING,
    DeliveryStatus.UNKNOWN,
]


def deliveries_retry_now(*, ids: Iterable) -> int:
    """Admin: failed, dead or waiting deliveries go out on the next run, keeping their
    attempts and age (a dead one that fails again is dead again)."""
    return Delivery.objects.filter(pk__in=list(ids), status__in=RETRYABLE).update(
        status=DeliveryStatus.PENDING, next_attempt_at=timezone.now(), claim=None
    )


def deliveries_replay(*, ids: Iterable) -> int:
    """Admin: as if just accepted: attempts and the max age start again."""
    now = timezone.now()
    return Delivery.objects.filter(pk__in=list(ids), status__in=RETRYABLE).update(
        status=DeliveryStatus.PENDING,
        next_attempt_at=now,
        claim=None,
        attempts=0,
        created_at=now,
        last_error="",
    )


def next_due_in(account_id: int) -> float | None:
    """Seconds until the account's next pending delivery is due, if any."""
    when = (
        Delivery.objects.filter(account_id=account_id, status=DeliveryStatus.PENDING)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    if when is None:
        return None
    return max(0.0, (when - timezone.now()).total_seconds())
