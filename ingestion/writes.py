# ruff: noqa: S608  (the SQL is composed from table and column names only; values are parameters)
"""The write of accepted data points: one SQL statement, whether it carries one item or a
thousand, committed once.

On PostgreSQL everything an accepted request changes is written by one statement of
data-modifying CTEs over whole columns passed as arrays (``unnest``), so a single ingest
is one round trip (autocommit: its own transaction) and a batch a fixed number:

``item``
    the requests, one row each: (id, type_id, group_key_id, hard_id, data,
    profile_type_id, profile_hard_id, category, n), unnested from arrays.
``up``
    ``INSERT … ON CONFLICT (customer, environment, type, Hard-ID) DO UPDATE … WHERE``
    the group key, data or profile reference ``IS DISTINCT FROM`` what is stored: a new
    Hard-ID is inserted (revision 1, its profile looked up), a changed one becomes the
    next revision, an identical one is left alone and not returned. The Hard-ID is the
    idempotency key.
``result``
    per item: its Datatalks ID (``up``'s, else the one its Hard-ID already had, looked
    up in the statement's snapshot), revision, and whether it changed.
``released`` / ``attached`` / ``collided`` (types with secondary ids)
    ids a changed data point no longer carries are let go; ids it carries that nobody
    owns are attached (also when the data is unchanged: one freed since is attached
    now); one owned by another data point (before this statement, or by an earlier item
    of the same batch) is recorded as an identity collision, never merged.
``linked`` (types events refer to)
    events that arrived before a new profile are linked to it.
``outbox`` (types with a Salesmanago route)
    one delivery per changed revision and account (``integrations.services``).
``logged`` (single requests)
    a request-log row per request, with its Datatalks ID and ``changed``.

The main query returns (n, id, revision, changed) per item and the accounts to wake.
A rejected request writes only its log row (``ingestion.request_log``).

Group commit: the single ingests a process's threads bring at once (gthread) are
written by one such statement, each with its own log row and answer
(``ingestion.grouping``): PostgreSQL then parses, plans and commits once per group.

One case takes a second statement: two identical first arrivals of a Hard-ID at the same
moment. The later one's upsert waits for the first, finds nothing to change and returns
nothing, and its snapshot predates the first's row; its id is then read afterwards.

SQLite (``make run``'s embedded default) has no data-modifying CTEs: there the same
outcome, idempotency included, is written step by step in one transaction
(``ingestion.storage``), and the view writes the log row.
"""

import functools
import json
import logging
import re
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from integrations.services import (
    Revision,
    deliveries_create,
    outbox_insert_sql,
    outbox_routes,
)
from integrations.tasks import wake_accounts
from mappings.spec import CustomerSpec

from .caller import ApiCaller
from .grouping import GroupCommit
from .models import DataPoint, IdentityCollision, RequestLog, SecondaryIdentifier
from .request_log import LogEntry, accepted_row
from .storage import (
    CHANGED_COLUMNS,
    Stored,
    normalize_identifier,
    profile_link,
    request_key,
    store_many,
)
from .validation import IngestRequest, Judgement

logger = logging.getLogger(__name__)

_DP = DataPoint._meta.db_table
_SECONDARY = SecondaryIdentifier._meta.db_table
_COLLISION = IdentityCollision._meta.db_table
_LOG = RequestLog._meta.db_table


def _scoped(alias: str) -> str:
    return f"{alias}.customer_id = %(customer_id)s AND {alias}.environment = %(environment)s"


_ITEM = (
    "item AS (SELECT * FROM unnest(%(id)s::uuid[], %(type_id)s::bigint[], "
    "%(group_key_id)s::bigint[], %(hard_id)s::text[], %(data)s::text[]::jsonb[], "
    "%(profile_type_id)s::bigint[], %(profile_hard_id)s::text[], %(category)s::text[]) "
    "WITH ORDINALITY AS i(id, type_id, group_key_id, hard_id, data, profile_type_id, "
    "profile_hard_id, category, n))"
)
# The data point a Hard-ID already has (the statement's snapshot): a lateral lookup by
# the unique index, whatever the planner believes of the table's size. OFFSET 0 keeps
# it a subquery: pulled up into a join, a table without statistics (autovacuum off, a
# fresh database) was scanned by the index's customer prefix, every row of it. Only
# items ``up`` did not return (unchanged) look: a batch of new items skips the lookup
# (3 to 6 us of PostgreSQL CPU an item).
_BEFORE = (
    f"LEFT JOIN LATERAL (SELECT d.id, d.revision FROM {_DP} d WHERE {_scoped('d')} "
    "AND d.data_point_type_id = i.type_id AND d.hard_id = i.hard_id "
    "AND u.id IS NULL OFFSET 0) b ON true"
)
_CHANGED = " OR ".join(
    f"{_DP}.{c} IS DISTINCT FROM EXCLUDED.{c}" for c in CHANGED_COLUMNS
)
_UP = (
    f"up AS (INSERT INTO {_DP} (id, customer_id, environment, data_point_type_id, "
    "group_key_id, hard_id, data, profile_type_id, profile_hard_id, profile_id, "
    "revision, created_at, updated_at) "
    "SELECT i.id, %(customer_id)s, %(environment)s, i.type_id, i.group_key_id, "
    "i.hard_id, i.data, i.profile_type_id, i.profile_hard_id, "
    f"(SELECT p.id FROM {_DP} p WHERE {_scoped('p')} "
    "AND p.data_point_type_id = i.profile_type_id AND p.hard_id = i.profile_hard_id), "
    "1, %(now)s::timestamptz, %(now)s::timestamptz FROM item i ORDER BY i.n "
    "ON CONFLICT (customer_id, environment, data_point_type_id, hard_id) DO UPDATE SET "
    "group_key_id = EXCLUDED.group_key_id, data = EXCLUDED.data, "
    "profile_type_id = EXCLUDED.profile_type_id, "
    "profile_hard_id = EXCLUDED.profile_hard_id, profile_id = EXCLUDED.profile_id, "
    f"revision = {_DP}.revision + 1, updated_at = EXCLUDED.updated_at "
    f"WHERE {_CHANGED} "
    "RETURNING id, revision, data_point_type_id AS type_id, hard_id, group_key_id)"
)
_RESULT = (
    "result AS (SELECT i.n, coalesce(u.id, b.id) AS id, "
    "coalesce(u.revision, b.revision) AS revision, u.id IS NOT NULL AS changed, "
    "i.type_id, i.group_key_id, i.category "
    "FROM item i LEFT JOIN up u ON u.type_id = i.type_id AND u.hard_id = i.hard_id "
    f"{_BEFORE})"
)
# Secondary ids: claims are (n, kind, value); ``checked`` the items whose type has any.
_SECONDARY_IDS = (
    "claim AS (SELECT c.n, c.kind, c.value, r.id AS data_point_id, "
    f"(SELECT s.data_point_id FROM {_SECONDARY} s WHERE {_scoped('s')} "
    "AND s.kind = c.kind AND s.value = c.value) AS owner "
    "FROM unnest(%(claim_n)s::bigint[], %(claim_kind)s::text[], "
    "%(claim_value)s::text[]) AS c(n, kind, value) "
    "JOIN result r ON r.n = c.n AND r.id IS NOT NULL), "
    # ids as an array: an index condition on data_point_id, never a scan of the table
    f"released AS (DELETE FROM {_SECONDARY} s "
    "WHERE s.data_point_id = ANY(ARRAY(SELECT r.id FROM result r WHERE r.changed "
    "AND r.revision > 1 AND r.n = ANY(%(checked)s::bigint[]))) "
    "AND NOT EXISTS (SELECT 1 FROM claim c "
    "WHERE c.data_point_id = s.data_point_id AND c.kind = s.kind "
    "AND c.value = s.value)), "
    f"attached AS (INSERT INTO {_SECONDARY} (customer_id, environment, kind, value, "
    "data_point_id, created_at) SELECT DISTINCT ON (kind, value) %(customer_id)s, "
    "%(environment)s, kind, value, data_point_id, %(now)s::timestamptz FROM claim "
    "WHERE owner IS NULL ORDER BY kind, value, n "
    "ON CONFLICT (customer_id, environment, kind, value) DO NOTHING), "
    f"collided AS (INSERT INTO {_COLLISION} (customer_id, environment, kind, value, "
    "owner_id, claimant_id, request_id, created_at) SELECT %(customer_id)s, "
    "%(environment)s, kind, value, owner, data_point_id, "
    "(%(request_id)s::uuid[])[n], %(now)s::timestamptz "
    "FROM (SELECT n, kind, value, data_point_id, coalesce(owner, first_value(data_point_id) "
    "OVER (PARTITION BY kind, value ORDER BY n)) AS owner FROM claim) AS o "
    "WHERE owner <> data_point_id ON CONFLICT DO NOTHING RETURNING 1)"
)
_LINKED = (
    f"linked AS (UPDATE {_DP} e SET profile_id = u.id FROM up u "
    "WHERE u.revision = 1 AND u.type_id = ANY(%(referenced)s::bigint[]) "
    f"AND {_scoped('e')} AND e.profile_type_id = u.type_id "
    "AND e.profile_hard_id = u.hard_id AND e.profile_id IS NULL)"
)
_ROUTES = (
    "route AS (SELECT * FROM unnest(%(route_type)s::bigint[], "
    "%(route_group_key)s::bigint[], %(route_account)s::bigint[]) "
    "AS r(type_id, group_key_id, account_id))"
)
_OUTBOX = (
    "outbox AS ("
    + outbox_insert_sql(
        revisions="(SELECT * FROM result WHERE changed)",
        routes="route",
        now="%(now)s::timestamptz",
    )
    + ")"
)
# The log rows' columns known before the write, with their types: one array each,
# an element per request (a group of single ingests is several).
_LOG_COLUMNS = {
    "request_id": "uuid",
    "customer_id": "bigint",
    "access_key_id": "text",
    "environment": "text",
    "method": "text",
    "path": "text",
    "type_name": "text",
    "mapping_version": "integer",
    "status_code": "smallint",
    "messages": "jsonb",
    "duration_ms": "float8",
    "created_at": "timestamptz",
}
_LOGGED = (
    f"logged AS (INSERT INTO {_LOG} ({', '.join(_LOG_COLUMNS)}, datatalks_id, changed) "
    f"SELECT {', '.join(f'l.{c}' for c in _LOG_COLUMNS)}, r.id, r.changed FROM unnest("
    + ", ".join(f"%(log_{c})s::{t}[]" for c, t in _LOG_COLUMNS.items())
    + f") WITH ORDINALITY AS l({', '.join(_LOG_COLUMNS)}, n) JOIN result r ON r.n = l.n)"
)


@dataclass(frozen=True, slots=True)
class Single:
    """A single ingest with what its log row needs (a group writes several)."""

    caller: ApiCaller
    request: IngestRequest
    entry: LogEntry
    judgement: Judgement


@dataclass(frozen=True, slots=True)
class Written:
    """What a write stored, one per request in order, and whether it wrote the
    request's log row too."""

    stored: list[Stored]
    logged: bool


def datapoints_write(
    *,
    caller: ApiCaller,
    spec: CustomerSpec,
    requests: list[IngestRequest],
    log: tuple[LogEntry, Judgement] | None = None,
) -> Written:
    """Stores requests that name no Datatalks ID (the last of equal Hard-IDs wins),
    with their secondary ids, event links and outbox rows; wakes delivery on commit.

    With ``log`` (a single request) the request-log row is written in the same
    statement on PostgreSQL, together with the single requests of this process's
    other threads that arrive meanwhile (``_single_write``); ``Written.logged`` says
    whether it was.
    """
    if connection.vendor != "postgresql":
        with transaction.atomic():
            return Written(_write_stepwise(caller, spec, requests), logged=False)
    if log:
        [request] = requests
        stored = _single_write(spec, Single(caller, request, *log))
        return Written([stored], logged=True)
    by_key = _write(caller, spec, requests, logs=None)
    return Written([by_key[request_key(r)] for r in requests], logged=False)


_groups = GroupCommit(limit=100)


def _single_write(spec: CustomerSpec, single: Single) -> Stored:
    """Group commit: the single ingests of one customer, environment and
    configuration revision that this process's threads bring while one is being
    written are written by the next statement together (``ingestion.grouping``).

    A request inside a transaction (a dry run, a test's) is written alone, in it.
    """
    if connection.in_atomic_block or not settings.DATATALKS_GROUP_COMMIT:
        return singles_write(spec=spec, singles=[single])[0]
    customer = single.caller.customer
    scope = (customer.pk, single.caller.environment, spec.revision)
    return _groups.submit(
        scope=scope,
        key=request_key(single.request),
        item=single,
        write=lambda singles: _group_write(spec, singles),
        wait=settings.DATATALKS_GROUP_COMMIT_WAIT_US / 1e6,
    )


def _group_write(spec: CustomerSpec, singles: list[Single]) -> list[Stored]:
    """A group's statement, or after it failed one request's alone, on a connection
    that works: when the failure ended the writing thread's connection (the server
    went away mid-statement, which rolled it back), the retries reconnect instead of
    failing every request of the group with the lost connection."""
    if connection.errors_occurred:
        connection.close_if_unusable_or_obsolete()
    return singles_write(spec=spec, singles=singles)


def singles_write(*, spec: CustomerSpec, singles: list[Single]) -> list[Stored]:
    """Single ingests of one customer and environment, of distinct Hard-IDs, each
    with its request-log row: one statement (a statement changes a row once)."""
    ordered = sorted(singles, key=lambda s: request_key(s.request))
    if len({request_key(s.request) for s in singles}) < len(singles):
        raise ValueError("two requests for one Hard-ID in one statement")
    requests = [s.request for s in ordered]
    by_key = _write(ordered[0].caller, spec, requests, logs=ordered)
    return [by_key[request_key(s.request)] for s in singles]


def _write(caller, spec, requests, logs) -> dict[tuple[int, str], Stored]:
    """The one statement; with ``logs`` (distinct Hard-IDs, in ``_key`` order), a
    request-log row for each."""
    latest = {request_key(r): r for r in requests}
    unique = sorted(latest.values(), key=request_key)  # one lock order for every writer
    params, parts = _statement(caller, spec, unique, logs)
    rows = _execute(_sql(parts), params)
    by_key = _stored(caller, spec, unique, rows, logs)
    accounts = rows[0][4] if rows and rows[0][4] else []
    if rows and rows[0][5]:
        logger.warning("%d secondary id collisions recorded", rows[0][5])
    if accounts:
        woken = sorted(set(accounts))
        transaction.on_commit(lambda: wake_accounts(woken))
    return by_key


def _execute(sql: str, params: dict[str, Any]) -> list[tuple]:
    """Runs the statement with its values sent in binary, apart from the SQL
    (server-side binding), prepared once per connection (``binding_cursor``).

    For a 1,000-item batch, quoting the columns into the SQL cost 31 ms of the
    worker's CPU (23 of them the JSON strings of ``data``), sending them in binary
    2 ms. For a single ingest quoting was a little cheaper in the worker, but
    PostgreSQL then parsed and planned the statement on every run: 1.08 ms of its
    CPU against 0.38 ms for the prepared statement's generic plan.
    """
    with connection.binding_cursor(prepared=True) as cursor:
        cursor.execute(_binary(sql), params)
        return cursor.fetchall()


_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@functools.lru_cache(maxsize=256)
def _binary(sql: str) -> str:
    return _PLACEHOLDER.sub(r"%(\1)b", sql)


def _statement(caller, spec, requests, logs) -> tuple[dict[str, Any], list[str]]:
    """The parameters (whole columns as arrays) and the CTEs this write needs."""
    now = timezone.now()
    params: dict[str, Any] = {
        "customer_id": caller.customer.pk,
        "environment": caller.environment,
        "now": now,
        "request_id": [s.entry.request_id for s in logs] if logs else [],
        "id": [uuid.uuid4() for _ in requests],
        "type_id": [r.type.id for r in requests],
        "group_key_id": [spec.group_keys[r.group_key] for r in requests],
        "hard_id": [r.hard_key for r in requests],
        "data": [json.dumps(r.values) for r in requests],
        "category": [r.type.category for r in requests],
    }
    links = [profile_link(r) for r in requests]
    params["profile_type_id"] = [type_id for type_id, _ in links]
    params["profile_hard_id"] = [key for _, key in links]
    parts = [_ITEM, _UP, _RESULT]
    if _secondary_ids(requests, params):
        parts.append(_SECONDARY_IDS)
    referenced = _referenced(spec, requests)
    if referenced:
        params["referenced"] = referenced
        parts.append(_LINKED)
    if _routes(caller, requests, params):
        parts += [_ROUTES, _OUTBOX]
    if logs:
        rows = [
            accepted_row(entry=s.entry, caller=s.caller, judgement=s.judgement, now=now)
            for s in logs
        ]
        params.update({f"log_{c}": [row[c] for row in rows] for c in _LOG_COLUMNS})
        parts.append(_LOGGED)
    return params, parts


def _sql(parts: list[str]) -> str:
    """The statement; the accounts to wake and the count of collisions come once, on
    the first row (on every row, a batch's 1,000 accounts were a million array
    elements to write out, sort and read back)."""
    woken = (
        "(SELECT array_agg(DISTINCT account_id) FROM outbox)"
        if _OUTBOX in parts
        else "NULL"
    )
    collisions = "(SELECT count(*) FROM collided)" if _SECONDARY_IDS in parts else "0"
    return (
        "WITH "
        + ", ".join(parts)
        + f" SELECT n, id, revision, changed, CASE WHEN n = 1 THEN {woken} END, "
        f"CASE WHEN n = 1 THEN {collisions} END FROM result ORDER BY n"
    )


def _secondary_ids(requests: list[IngestRequest], params: dict) -> bool:
    """Adds the claims (item number, kind, normalized value); False when no item's type
    has secondary ids."""
    checked, claim_n, kinds, values = [], [], [], []
    for n, request in enumerate(requests, start=1):
        fields = [f for f in request.type.fields if f.secondary_id]
        if fields:
            checked.append(n)
        for field in fields:
            if request.values.get(field.cdp) not in (None, ""):
                claim_n.append(n)
                kinds.append(field.cdp)
                values.append(normalize_identifier(request.values[field.cdp]))
    params.update(
        checked=checked, claim_n=claim_n, claim_kind=kinds, claim_value=values
    )
    return bool(checked)


def _referenced(spec: CustomerSpec, requests: list[IngestRequest]) -> list[int]:
    """The types among the requests that some event type refers to."""
    referenced = {
        t.reference_field.references_type_id
        for t in spec.types.values()
        if t.reference_field is not None
    }
    return sorted({r.type.id for r in requests} & referenced)


def _routes(caller: ApiCaller, requests: list[IngestRequest], params: dict) -> bool:
    routes = outbox_routes(
        customer=caller.customer,
        environment=caller.environment,
        type_ids={r.type.id for r in requests},
    )
    params["route_type"] = [type_id for type_id, _, _ in routes]
    params["route_group_key"] = [group_key_id for _, group_key_id, _ in routes]
    params["route_account"] = [account_id for _, _, account_id in routes]
    return bool(routes)


def _stored(caller, spec, requests, rows, logs) -> dict[tuple[int, str], Stored]:
    """A Stored per Hard-ID from the statement's rows, in the order of ``requests``."""
    result = {}
    missing = []
    for request, (_, pk, revision, changed, *_) in zip(requests, rows, strict=True):
        if pk is None:
            missing.append(request)
            continue
        result[request_key(request)] = Stored(
            datatalks_id=pk,
            revision=revision,
            type=request.type,
            group_key_id=spec.group_keys[request.group_key],
            hard_key=request.hard_key,
            new=changed and revision == 1,
            changed=changed,
        )
    if missing:
        result.update(_arrived_meanwhile(caller, spec, missing, logs))
    return result


def _arrived_meanwhile(caller, spec, requests, logs) -> dict[tuple[int, str], Stored]:
    """Items identical to a row another request inserted while this statement ran."""
    found = {}
    for request in requests:
        pk, revision = DataPoint.objects.values_list("pk", "revision").get(
            customer_id=caller.customer.pk,
            environment=caller.environment,
            data_point_type_id=request.type.id,
            hard_id=request.hard_key,
        )
        found[request_key(request)] = Stored(
            datatalks_id=pk,
            revision=revision,
            type=request.type,
            group_key_id=spec.group_keys[request.group_key],
            hard_key=request.hard_key,
            new=False,
            changed=False,
        )
    for single in logs or []:
        if (stored := found.get(request_key(single.request))) is not None:
            RequestLog.objects.filter(pk=single.entry.request_id).update(
                datatalks_id=stored.datatalks_id
            )
    return found


def _write_stepwise(caller, spec, requests: list[IngestRequest]) -> list[Stored]:
    """The same write in several statements (SQLite), inside the caller's transaction."""
    stored = store_many(caller=caller, spec=spec, requests=requests)
    outbox_stepwise(caller=caller, stored=stored)
    return stored


def outbox_stepwise(*, caller: ApiCaller, stored: list[Stored]) -> None:
    """The outbox rows of the revisions that changed, in a statement of their own
    (the stepwise paths: SQLite, and requests naming their Datatalks ID); wakes
    delivery on commit. An identical request makes no delivery."""
    changed = {s.datatalks_id: s for s in stored if s.changed}
    accounts = deliveries_create(
        customer=caller.customer,
        environment=caller.environment,
        revisions=[
            Revision(
                datatalks_id=s.datatalks_id,
                revision=s.revision,
                type_id=s.type.id,
                category=s.type.category,
                group_key_id=s.group_key_id,
            )
            for s in changed.values()
        ],
    )
    if accounts:
        transaction.on_commit(lambda: wake_accounts(accounts))
