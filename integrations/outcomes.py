"""Writing what sends did to the outbox: one statement per call (or per wave of event
calls) whatever mix of outcomes it had.

A call's rows go sent, failed, back to pending or dead, each with its own values (the
eventId, the error, the excerpts): PostgreSQL takes every row's values as whole columns
(``unnest``), so one UPDATE writes them all, and the eventIds answered are kept by the
same statement. Per-row ORM updates with a ``CASE`` per column cost 0.7 ms of worker CPU
per event and grew with the square of the batch in PostgreSQL (bench/PROFILE.md).
"""

import random
from collections import Counter
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from .event_sends import event_ids_save
from .metrics import deliveries_observe
from .models import Delivery, DeliveryStatus, SalesmanagoEvent

EXCERPT = 4000

_DELIVERY = Delivery._meta.db_table
_EVENT = SalesmanagoEvent._meta.db_table


def failed(messages: dict) -> dict:
    """The per-row values of deliveries Salesmanago refused (``messages`` by pk)."""
    return {
        "status": dict.fromkeys(messages, DeliveryStatus.FAILED),
        "last_error": {pk: m[:EXCERPT] for pk, m in messages.items()},
    }


def retried(deliveries: list[Delivery], messages: dict, retry_after) -> dict:
    """The per-row values of deliveries to try again after a backoff; those past the
    max age are dead instead."""
    now = timezone.now()
    max_age = timedelta(seconds=settings.DELIVERY_MAX_AGE_SECONDS)
    attempts = max((d.attempts for d in deliveries), default=0) + 1
    later = now + timedelta(seconds=backoff_seconds(attempts, retry_after))
    too_old = {d.pk for d in deliveries if now - d.created_at > max_age}
    return {
        "status": {
            d.pk: DeliveryStatus.DEAD if d.pk in too_old else DeliveryStatus.PENDING
            for d in deliveries
        },
        "last_error": {d.pk: messages[d.pk][:EXCERPT] for d in deliveries},
        "next_attempt_at": {d.pk: later for d in deliveries if d.pk not in too_old},
    }


def backoff_seconds(attempts: int, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter, capped; never sooner than Retry-After."""
    base = settings.DELIVERY_BACKOFF_BASE_SECONDS
    cap = settings.DELIVERY_BACKOFF_CAP_SECONDS
    delay = random.uniform(base, min(cap, base * 2 ** (attempts - 1)) * 1.5)
    return max(delay, retry_after or 0)


def merged(*per_items: dict) -> dict:
    """Per-row values of several groups of rows, as one ``per_item``."""
    columns: dict = {}
    for per_item in per_items:
        for name, values in per_item.items():
            columns.setdefault(name, {}).update(values)
    return columns


def record(
    deliveries: list[Delivery],
    *,
    per_item: dict | None = None,
    attempt: bool = True,
    event_ids: list[tuple] = (),
    **fields,
) -> None:
    """Writes these deliveries' outcome with one conditional UPDATE, and releases them.

    ``fields`` hold values for every row, ``per_item`` values by column and pk (a row
    without one keeps its value); every row gets a status from one or the other.
    ``attempt``: the send counts as an attempt. ``event_ids``: (data point id,
    revision, eventId) answered by Salesmanago, kept (SalesmanagoEvent) even if
    another sender took the rows over, since they are Salesmanago's.

    Only the claim holder records: a row reclaimed after its worker stalled is not
    overwritten by the stalled worker.
    """
    per_item = per_item or {}
    statuses = {
        d.pk: per_item.get("status", {}).get(d.pk, fields.get("status"))
        for d in deliveries
    }
    if None in statuses.values():
        raise ValueError("every delivery recorded needs a status")
    if not deliveries:
        return
    if connection.vendor == "postgresql":
        written = _record_sql(deliveries, per_item, attempt, event_ids, fields)
    else:
        written = _record_orm(deliveries, per_item, attempt, event_ids, fields)
    for status in set(statuses.values()):
        deliveries_observe(
            account_id=deliveries[0].account_id,
            status=status,
            deliveries=[d for d in deliveries if statuses[d.pk] == status],
            count=written[status],
        )


def _record_sql(deliveries, per_item, attempt, event_ids, fields) -> Counter:
    ids = [d.pk for d in deliveries]
    params: dict = {"claim": deliveries[0].claim, "sending": DeliveryStatus.SENDING}
    columns, arrays = ["id"], ["%(id)b::uuid[]"]
    params["id"] = ids
    sets = ["claim = NULL", "call_started_at = NULL"]
    if attempt:
        sets.append("attempts = d.attempts + 1")
    for name, values in per_item.items():
        field = Delivery._meta.get_field(name)
        # A row without its own value takes the one for all rows, if any, or keeps.
        default = fields.get(name)
        column = [_prep(field, values.get(pk, default)) for pk in ids]
        if all(value is None for value in column):
            continue  # every row keeps its value (and an array of nulls has no type)
        columns.append(name)
        arrays.append(f"%({name})b::{field.db_type(connection)}[]")
        params[name] = column
        sets.append(f"{name} = COALESCE(v.{name}, d.{name})")
    for name, value in fields.items():
        if name not in per_item:
            params[f"all_{name}"] = _prep(Delivery._meta.get_field(name), value)
            sets.append(f"{name} = %(all_{name})s")
    sql = (
        f"UPDATE {_DELIVERY} d SET {', '.join(sets)} "  # noqa: S608 (names only)
        f"FROM unnest({', '.join(arrays)}) AS v({', '.join(columns)}) "
        "WHERE d.id = v.id AND d.claim = %(claim)s AND d.status = %(sending)s "
        "RETURNING d.status"
    )
    if event_ids:
        sql = _keep_event_ids(deliveries[0].account_id, event_ids, params) + sql
    # The columns go in binary, apart from the SQL: quoting them into it was three
    # quarters of the statement's worker CPU.
    with connection.binding_cursor() as cursor:
        cursor.execute(sql, params)
        return Counter(status for (status,) in cursor.fetchall())


def _keep_event_ids(account_id: int, event_ids: list[tuple], params: dict) -> str:
    """A CTE that upserts the eventIds answered, to run before the record's UPDATE."""
    params["ev_account"] = account_id
    params["ev_now"] = timezone.now()
    params["ev_data_point"] = [dp for dp, _, _ in event_ids]
    params["ev_revision"] = [revision for _, revision, _ in event_ids]
    params["ev_event_id"] = [event_id for _, _, event_id in event_ids]
    return (
        f"WITH kept AS (INSERT INTO {_EVENT} "  # noqa: S608 (names only)
        "(account_id, data_point_id, revision, event_id, created_at, updated_at) "
        "SELECT %(ev_account)s, k.data_point_id, k.revision, k.event_id, "
        "%(ev_now)s, %(ev_now)s FROM unnest(%(ev_data_point)b::uuid[], "
        "%(ev_revision)b::integer[], %(ev_event_id)b::varchar(100)[]) "
        "AS k(data_point_id, revision, event_id) "
        "ON CONFLICT (data_point_id, account_id) DO UPDATE SET "
        "event_id = EXCLUDED.event_id, revision = EXCLUDED.revision, "
        "updated_at = EXCLUDED.updated_at) "
    )


def _prep(field, value):
    return None if value is None else field.get_db_prep_save(value, connection)


@transaction.atomic
def _record_orm(deliveries, per_item, attempt, event_ids, fields) -> Counter:
    """Databases without arrays (SQLite in development): a row at a time."""
    if event_ids:
        event_ids_save(account_id=deliveries[0].account_id, sent=list(event_ids))
    written: Counter = Counter()
    for delivery in deliveries:
        values = {**fields}
        values.update(
            {
                name: by_pk[delivery.pk]
                for name, by_pk in per_item.items()
                if delivery.pk in by_pk
            }
        )
        if attempt:
            values["attempts"] = F("attempts") + 1
        written[values["status"]] += Delivery.objects.filter(
            pk=delivery.pk, claim=delivery.claim, status=DeliveryStatus.SENDING
        ).update(claim=None, call_started_at=None, **values)
    return written
