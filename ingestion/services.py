"""Writes of the ingestion API: validate, resolve Datatalks IDs, store and write the
outbox, in one transaction per request (one statement on PostgreSQL: ingestion.writes)."""

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q

from datatalks.errors import PayloadInvalid
from integrations.services import delivery_preview
from mappings.spec import CustomerSpec, spec_for_customer

from .caller import ApiCaller
from .models import DataPoint
from .privacy.suppression import REFUSED, split_suppressed, suppression_refusals
from .request_log import LogEntry
from .storage import (
    Stored,
    link_waiting_events,
    profile_link,
    record_secondary_ids,
    store_many,
)
from .validation import IngestRequest, Judgement, judgement_of, validate_body
from .writes import datapoints_write, outbox_stepwise

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Ingested:
    """A stored data point: its Datatalks ID, what judged the body (for the log),
    whether the request changed anything (False: identical to what was stored), and
    whether its request-log row was written with the data."""

    datatalks_id: uuid.UUID
    judgement: Judgement
    changed: bool
    logged: bool = False


class Rejected(PayloadInvalid):
    """PayloadInvalid, with what judged the body so the view can log it."""

    def __init__(self, *messages: str, judgement: Judgement):
        super().__init__(*messages)
        self.judgement = judgement


def datapoint_ingest(
    *,
    caller: ApiCaller,
    category: str,
    version: str,
    body: Any,
    log: LogEntry | None = None,
) -> Ingested:
    """Validates one request body and stores it; with ``log``, writes the request's log
    row with the data where it can (``Ingested.logged``).

    Raises Rejected (a PayloadInvalid) with every problem when the body breaks the
    mapping.
    """
    spec = spec_for_customer(customer=caller.customer)
    judgement = judgement_of(body, spec)
    request, errors = validate_body(body, spec=spec, category=category, version=version)
    if errors:
        raise Rejected(*errors, judgement=judgement)
    if suppression_refusals(caller=caller, requests=[request]):
        raise Rejected(REFUSED, judgement=judgement)
    if not request.datatalks_id:
        written = datapoints_write(
            caller=caller,
            spec=spec,
            requests=[request],
            log=(log, judgement) if log else None,
        )
        [stored] = written.stored
        return Ingested(stored.datatalks_id, judgement, stored.changed, written.logged)
    try:
        with transaction.atomic():
            [stored] = _store(caller=caller, spec=spec, requests=[request])
    except PayloadInvalid as exc:
        raise Rejected(*exc.messages, judgement=judgement) from None
    return Ingested(stored.datatalks_id, judgement, stored.changed)


@dataclass(frozen=True, slots=True)
class ItemResult:
    index: int
    success: bool
    messages: list[str]
    datatalks_id: uuid.UUID | None
    changed: bool = False


def datapoints_ingest_batch(
    *, caller: ApiCaller, category: str, body: Any
) -> list[ItemResult]:
    """Stores every valid item of ``{"items": [...]}``; a bad item rejects only itself.

    Items with the same Hard-ID are applied in order (the last wins) and share one id.
    """
    items = _batch_items(body)
    spec = spec_for_customer(customer=caller.customer)
    results: list[ItemResult | None] = [None] * len(items)
    valid: list[tuple[int, IngestRequest]] = []
    for index, item in enumerate(items):
        request, errors = validate_body(
            item, spec=spec, category=category, version="v3"
        )
        if errors:
            results[index] = ItemResult(index, False, errors, None)
        else:
            valid.append((index, request))
    valid, suppressed = split_suppressed(caller=caller, items=valid)
    for index in suppressed:
        results[index] = ItemResult(index, False, [REFUSED], None)
    with transaction.atomic():
        for index, stored_or_error in _store_batch(caller, spec, valid):
            results[index] = stored_or_error
    return results  # type: ignore[return-value]


def _batch_items(body: Any) -> list:
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        raise PayloadInvalid('The body must be a JSON object {"items": [...]}.')
    items = body["items"]
    limit = settings.DATATALKS_BATCH_MAX_ITEMS
    if not items:
        raise PayloadInvalid("items: is empty; send at least one item")
    if len(items) > limit:
        raise PayloadInvalid(
            f"items: {len(items)} items; a batch holds at most {limit}"
        )
    return items


def _store_batch(caller, spec, valid: list[tuple[int, IngestRequest]]):
    by_id = [(i, r) for i, r in valid if r.datatalks_id]
    plain = [(i, r) for i, r in valid if not r.datatalks_id]
    if plain:
        written = datapoints_write(
            caller=caller, spec=spec, requests=[r for _, r in plain]
        )
        for (index, _), item in zip(plain, written.stored, strict=True):
            yield index, ItemResult(index, True, [], item.datatalks_id, item.changed)
    # Items naming their id are rare: each is resolved on its own, in a savepoint.
    for index, request in by_id:
        try:
            with transaction.atomic():
                [item] = _store(caller=caller, spec=spec, requests=[request])
            yield index, ItemResult(index, True, [], item.datatalks_id, item.changed)
        except PayloadInvalid as exc:
            yield index, ItemResult(index, False, exc.messages, None)


def _store(*, caller: ApiCaller, spec: CustomerSpec, requests: list[IngestRequest]):
    """Stores a request naming its Datatalks ID, and the outbox rows if it changed."""
    [request] = requests
    stored = [_store_by_id(caller, spec, request)]
    outbox_stepwise(caller=caller, stored=stored)
    return stored


def _store_by_id(caller, spec, request: IngestRequest) -> Stored:
    """A request naming its Datatalks ID: the same data point, or a Hard-ID change."""
    hard_key = request.hard_key
    scope = Q(
        customer_id=caller.customer.pk,
        environment=caller.environment,
        data_point_type_id=request.type.id,
    )
    current = (
        DataPoint.objects.select_for_update()
        # An erased data point's id names no one: it is never written again.
        .filter(scope, pk=request.datatalks_id, erased_at__isnull=True)
        .values_list("hard_id", flat=True)
        .first()
    )
    if current is None:
        # The same answer whether the id is unknown or another customer's: no leak.
        raise PayloadInvalid(
            f"datatalksId: {request.datatalks_id} is not a {request.type.name} "
            "data point of yours"
        )
    if current == hard_key:
        return store_many(caller=caller, spec=spec, requests=[request])[0]
    return _change_hard_id(caller, spec, request, scope, hard_key)


def _change_hard_id(caller, spec, request, scope: Q, hard_key: str) -> Stored:
    _ensure_hard_id_free(scope, request, hard_key)
    profile_type_id, profile_key = profile_link(request)
    try:
        with transaction.atomic():
            DataPoint.objects.filter(pk=request.datatalks_id).update(
                hard_id=hard_key,
                revision=F("revision") + 1,
                data=request.values,
                group_key_id=spec.group_keys[request.group_key],
                profile_type_id=profile_type_id,
                profile_hard_id=profile_key,
            )
    except IntegrityError:
        _ensure_hard_id_free(scope, request, hard_key)
        raise
    logger.info("Hard-ID changed", extra={"datatalks_id": str(request.datatalks_id)})
    stored = Stored(
        datatalks_id=request.datatalks_id,
        revision=DataPoint.objects.values_list("revision", flat=True).get(
            pk=request.datatalks_id
        ),
        type=request.type,
        group_key_id=spec.group_keys[request.group_key],
        hard_key=hard_key,
        new=True,
    )
    record_secondary_ids(caller=caller, requests=[request], stored=[stored])
    link_waiting_events(caller=caller, spec=spec, stored=[stored])
    return stored


def _ensure_hard_id_free(scope: Q, request: IngestRequest, hard_key: str) -> None:
    owner = DataPoint.objects.filter(scope, hard_id=hard_key).values_list(
        "pk", flat=True
    )
    if owner_id := owner.first():
        shown = ", ".join(
            f"{f.source}={request.values[f.cdp]}" for f in request.type.hard_id_fields
        )
        raise PayloadInvalid(
            f"datatalksId: the Hard-ID ({shown}) already belongs to Datatalks ID "
            f"{owner_id}; nothing was changed or merged"
        )


@dataclass(frozen=True)
class TryResult:
    """What an ingest would do: the id, the stored values, the Salesmanago items."""

    datatalks_id: uuid.UUID
    stored: dict[str, Any]
    salesmanago: list[dict]


class _Rollback(Exception):
    def __init__(self, result: TryResult):
        self.result = result


def datapoint_try(
    *, caller: ApiCaller, category: str, version: str, body: Any
) -> TryResult:
    """Runs the ingest path in full, then rolls it back: nothing is stored or sent.

    Raises Rejected (a PayloadInvalid) exactly as datapoint_ingest would.
    """
    try:
        with transaction.atomic():
            dp_id = datapoint_ingest(
                caller=caller, category=category, version=version, body=body
            ).datatalks_id
            stored = DataPoint.objects.select_related("profile").get(pk=dp_id)
            raise _Rollback(
                TryResult(
                    datatalks_id=dp_id,
                    stored=stored.data,
                    salesmanago=delivery_preview(data_point=stored),
                )
            )
    except _Rollback as done:
        return done.result
