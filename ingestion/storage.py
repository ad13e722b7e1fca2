# ruff: noqa: S608  (the SQL is composed from table names only; values are parameters)
"""Set-based writes of accepted data points: a handful of statements per request,
whether it carries one item or a thousand.

Each function takes already-validated requests; ``store_many`` is the one entry point
and runs inside the caller's transaction.
"""

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.utils import timezone

from mappings.spec import CustomerSpec, TypeSpec, hard_id_key

from .caller import ApiCaller
from .models import (
    SECONDARY_ID_MAX_LENGTH,
    DataPoint,
    IdentityCollision,
    SecondaryIdentifier,
)
from .validation import IngestRequest

logger = logging.getLogger(__name__)

_DP = DataPoint._meta.db_table
_SECONDARY = SecondaryIdentifier._meta.db_table
_DP_COLUMNS = (
    "id, customer_id, environment, data_point_type_id, group_key_id, hard_id, data, "
    "profile_type_id, profile_hard_id, profile_id, revision, created_at, updated_at"
)
# A row's profile is looked up in the same statement, so a linked event costs nothing.
_DP_ROW = (
    "(%s, %s, %s, %s, %s, %s, %s, %s, %s, "
    f"(SELECT p.id FROM {_DP} p WHERE p.customer_id = %s AND p.environment = %s "
    "AND p.data_point_type_id = %s AND p.hard_id = %s), 1, %s, %s)"
)
# What makes a data point a new revision: a request that leaves all of these as they
# are changes nothing (the Hard-ID is the idempotency key). SQLite's null-safe
# inequality is IS NOT; PostgreSQL's is IS DISTINCT FROM.
CHANGED_COLUMNS = ("group_key_id", "data", "profile_type_id", "profile_hard_id")


def _changed_condition() -> str:
    op = "IS NOT" if connection.vendor == "sqlite" else "IS DISTINCT FROM"
    return " OR ".join(f"{_DP}.{c} {op} EXCLUDED.{c}" for c in CHANGED_COLUMNS)


# Inserts or replaces by Hard-ID in one statement, so concurrent first arrivals of the
# same Hard-ID end with one row: the loser's insert becomes an update of the winner's.
# A row whose values are unchanged is left alone and not returned.
_DP_UPSERT = (
    f"INSERT INTO {_DP} ({_DP_COLUMNS}) VALUES {{rows}} "
    "ON CONFLICT (customer_id, environment, data_point_type_id, hard_id) DO UPDATE SET "
    "group_key_id = EXCLUDED.group_key_id, data = EXCLUDED.data, "
    "profile_type_id = EXCLUDED.profile_type_id, "
    "profile_hard_id = EXCLUDED.profile_hard_id, profile_id = EXCLUDED.profile_id, "
    f"revision = {_DP}.revision + 1, updated_at = EXCLUDED.updated_at "
    "WHERE {changed} "
    "RETURNING id, revision, data_point_type_id, hard_id"
)
_DP_IDS = (
    f"SELECT id, revision, data_point_type_id, hard_id FROM {_DP} "
    "WHERE customer_id = %s AND environment = %s AND ({keys})"
)
# The no-op update makes RETURNING name each value's owner, new or existing.
_SECONDARY_UPSERT = (
    f"INSERT INTO {_SECONDARY} (customer_id, environment, kind, value, data_point_id, "
    "created_at) VALUES {rows} "
    "ON CONFLICT (customer_id, environment, kind, value) DO UPDATE SET kind = EXCLUDED.kind "
    "RETURNING kind, value, data_point_id"
)


@dataclass(frozen=True, slots=True)
class Stored:
    """One stored data point: its id, revision, whether its Hard-ID is new, and whether
    the request changed it (an identical request leaves the stored revision as is)."""

    datatalks_id: uuid.UUID
    revision: int
    type: TypeSpec
    group_key_id: int
    hard_key: str
    new: bool
    changed: bool = True


def profile_link(request: IngestRequest) -> tuple[int | None, str]:
    """The profile type and Hard-ID an event refers to, if any."""
    field = request.type.reference_field
    if field is None or request.values.get(field.cdp) is None:
        return None, ""
    return field.references_type_id, hard_id_key([request.values[field.cdp]])


def store_many(
    *, caller: ApiCaller, spec: CustomerSpec, requests: list[IngestRequest]
) -> list[Stored]:
    """Upserts the requests (the last of equal Hard-IDs wins), records secondary ids,
    links waiting events; returns one Stored per request, in order."""
    latest = {request_key(r): r for r in requests}
    stored = upsert(caller=caller, spec=spec, requests=list(latest.values()))
    by_key = {(s.type.id, s.hard_key): s for s in stored}
    record_secondary_ids(caller=caller, requests=list(latest.values()), stored=stored)
    link_waiting_events(caller=caller, spec=spec, stored=stored)
    return [by_key[request_key(r)] for r in requests]


def upsert(*, caller: ApiCaller, spec: CustomerSpec, requests: list[IngestRequest]):
    """One INSERT ... ON CONFLICT for all requests (their Hard-IDs must differ)."""
    db = connection
    now = db.ops.adapt_datetimefield_value(timezone.now())
    customer_id, env = caller.customer.pk, caller.environment
    params: list[Any] = []
    for request in requests:
        profile_type_id, profile_key = profile_link(request)
        params += [
            DataPoint._meta.pk.get_db_prep_value(uuid.uuid4(), db),
            customer_id,
            env,
            request.type.id,
            spec.group_keys[request.group_key],
            request.hard_key,
            DataPoint._meta.get_field("data").get_db_prep_value(request.values, db),
            profile_type_id,
            profile_key,
            customer_id,
            env,
            profile_type_id,
            profile_key,
            now,
            now,
        ]
    sql = _DP_UPSERT.format(
        rows=", ".join([_DP_ROW] * len(requests)), changed=_changed_condition()
    )
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        changed = {(t, key): (pk, rev) for pk, rev, t, key in cursor.fetchall()}
    unchanged = _unchanged(
        caller, [r for r in requests if request_key(r) not in changed]
    )
    result = []
    for request in requests:
        is_changed = request_key(request) in changed
        pk, revision = (
            changed[request_key(request)]
            if is_changed
            else unchanged[request_key(request)]
        )
        result.append(
            Stored(
                datatalks_id=DataPoint._meta.pk.to_python(pk),
                revision=revision,
                type=request.type,
                group_key_id=spec.group_keys[request.group_key],
                hard_key=request.hard_key,
                new=is_changed and revision == 1,
                changed=is_changed,
            )
        )
    return result


def request_key(request: IngestRequest) -> tuple[int, str]:
    """What identifies a request's data point: its type and Hard-ID."""
    return request.type.id, request.hard_key


def _unchanged(caller: ApiCaller, requests: list[IngestRequest]) -> dict:
    """(id, revision) by (type, Hard-ID) of data points the upsert left as they were."""
    if not requests:
        return {}
    keys = " OR ".join(["(data_point_type_id = %s AND hard_id = %s)"] * len(requests))
    params: list[Any] = [caller.customer.pk, caller.environment]
    for request in requests:
        params += list(request_key(request))
    with connection.cursor() as cursor:
        cursor.execute(_DP_IDS.format(keys=keys), params)
        return {(t, key): (pk, rev) for pk, rev, t, key in cursor.fetchall()}


def normalize_identifier(value: Any) -> str:
    """Trimmed and case-insensitive, as identities are matched; long ids are cut."""
    return str(value).strip().lower()[:SECONDARY_ID_MAX_LENGTH]


def record_secondary_ids(*, caller: ApiCaller, requests, stored: list[Stored]) -> None:
    """Attaches secondary ids; a value already owned by another is a collision, never a
    merge. Ids a data point no longer carries (a changed email) are let go."""
    claims: list[tuple[str, str, uuid.UUID]] = []
    checked: list[Stored] = []
    for request, item in zip(requests, stored, strict=True):
        fields = [f for f in request.type.fields if f.secondary_id]
        if not fields:
            continue
        checked.append(item)
        claims += [
            (f.cdp, normalize_identifier(request.values[f.cdp]), item.datatalks_id)
            for f in fields
            if request.values.get(f.cdp) not in (None, "")
        ]
    # Ids a data point no longer carries can only be let go when its data changed; an
    # unchanged one still claims its ids, so one freed since it came is attached now.
    _release_stale(caller, [s for s in checked if s.changed and not s.new], claims)
    if claims:
        _claim(caller, claims)


def _release_stale(caller, existing: list[Stored], claims) -> None:
    if not existing:
        return
    ids = [s.datatalks_id for s in existing]
    kept = SecondaryIdentifier.objects.none()
    for kind, value, dp_id in claims:
        kept = kept | SecondaryIdentifier.objects.filter(
            data_point_id=dp_id, kind=kind, value=value
        )
    SecondaryIdentifier.objects.filter(
        customer_id=caller.customer.pk,
        environment=caller.environment,
        data_point_id__in=ids,
    ).exclude(pk__in=kept.values("pk")).delete()


def _claim(caller, claims: list[tuple[str, str, uuid.UUID]]) -> None:
    first: dict[tuple[str, str], uuid.UUID] = {}
    for kind, value, dp_id in claims:
        first.setdefault((kind, value), dp_id)
    db = connection
    now = db.ops.adapt_datetimefield_value(timezone.now())
    params: list[Any] = []
    for (kind, value), dp_id in first.items():
        params += [
            caller.customer.pk,
            caller.environment,
            kind,
            value,
            DataPoint._meta.pk.get_db_prep_value(dp_id, db),
            now,
        ]
    rows = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(first))
    with db.cursor() as cursor:
        cursor.execute(_SECONDARY_UPSERT.format(rows=rows), params)
        owners = {
            (k, v): DataPoint._meta.pk.to_python(o) for k, v, o in cursor.fetchall()
        }
    collisions = [
        IdentityCollision(
            customer_id=caller.customer.pk,
            environment=caller.environment,
            kind=kind,
            value=value,
            owner_id=owners[(kind, value)],
            claimant_id=dp_id,
        )
        for kind, value, dp_id in claims
        if owners[(kind, value)] != dp_id
    ]
    if collisions:
        IdentityCollision.objects.bulk_create(collisions, ignore_conflicts=True)
        logger.warning("%d secondary id collisions recorded", len(collisions))


_LINK = (
    f"UPDATE {_DP} AS e SET profile_id = p.id FROM {_DP} AS p "
    "WHERE e.customer_id = %s AND e.environment = %s AND e.profile_type_id = %s "
    "AND e.profile_id IS NULL AND e.profile_hard_id IN ({keys}) "
    "AND p.customer_id = e.customer_id AND p.environment = e.environment "
    "AND p.data_point_type_id = e.profile_type_id AND p.hard_id = e.profile_hard_id"
)


def link_waiting_events(*, caller: ApiCaller, spec: CustomerSpec, stored: list[Stored]):
    """Links events that arrived before their profile, once the profile is here."""
    new_keys: dict[int, list[str]] = {}
    for item in stored:
        if item.new and _is_referenced(spec, item.type):
            new_keys.setdefault(item.type.id, []).append(item.hard_key)
    with connection.cursor() as cursor:
        for type_id, keys in new_keys.items():
            cursor.execute(
                _LINK.format(keys=", ".join(["%s"] * len(keys))),
                [caller.customer.pk, caller.environment, type_id, *keys],
            )


def _is_referenced(spec: CustomerSpec, type_spec: TypeSpec) -> bool:
    return any(
        t.reference_field and t.reference_field.references_type_id == type_spec.id
        for t in spec.types.values()
    )
