"""Writes of the ingestion API: validate, resolve the Datatalks ID, store, in one transaction."""

import logging
import uuid
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from datatalks.errors import PayloadInvalid
from mappings.spec import CustomerSpec, TypeSpec, hard_id_key, spec_for_customer

from .caller import ApiCaller
from .models import (
    SECONDARY_ID_MAX_LENGTH,
    DataPoint,
    IdentityCollision,
    SecondaryIdentifier,
)
from .validation import IngestRequest, validate_body

logger = logging.getLogger(__name__)

_TABLE = DataPoint._meta.db_table
# One statement inserts or replaces by Hard-ID, so concurrent first arrivals of the same
# Hard-ID end with one row: the loser's insert becomes an update of the winner's row.
_UPSERT = f"""
INSERT INTO {_TABLE} (id, customer_id, environment, data_point_type_id, group_key_id,
    hard_id, data, profile_type_id, profile_hard_id, profile_id, revision,
    created_at, updated_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s,
    (SELECT p.id FROM {_TABLE} p WHERE p.customer_id = %s AND p.environment = %s
        AND p.data_point_type_id = %s AND p.hard_id = %s),
    1, %s, %s)
ON CONFLICT (customer_id, environment, data_point_type_id, hard_id) DO UPDATE SET
    group_key_id = EXCLUDED.group_key_id, data = EXCLUDED.data,
    profile_type_id = EXCLUDED.profile_type_id,
    profile_hard_id = EXCLUDED.profile_hard_id, profile_id = EXCLUDED.profile_id,
    revision = {_TABLE}.revision + 1, updated_at = EXCLUDED.updated_at
RETURNING id, revision
"""


def datapoint_ingest(
    *, caller: ApiCaller, category: str, version: str, body: Any
) -> uuid.UUID:
    """Validates one request body and stores it; returns the data point's Datatalks ID.

    Raises PayloadInvalid with every problem when the body breaks the mapping.
    """
    spec = spec_for_customer(customer=caller.customer)
    request, errors = validate_body(body, spec=spec, category=category, version=version)
    if errors:
        raise PayloadInvalid(*errors)
    return _store(caller=caller, spec=spec, request=request)


@transaction.atomic
def _store(*, caller: ApiCaller, spec: CustomerSpec, request: IngestRequest) -> uuid.UUID:
    hard_key = hard_id_key([request.values[f.cdp] for f in request.type.hard_id_fields])
    if request.datatalks_id:
        dp_id, created = _store_by_id(caller, spec, request, hard_key)
    else:
        dp_id, created = _upsert(caller, spec, request, hard_key)
    _record_secondary_ids(caller, request, dp_id)
    if created and _is_referenced(spec, request.type):
        _link_waiting_events(caller, request.type, hard_key, dp_id)
    return dp_id


def _row(caller: ApiCaller, spec: CustomerSpec, request: IngestRequest) -> dict:
    """The columns every write of this request sets."""
    profile_type_id, profile_key = _profile_link(request)
    return {
        "group_key_id": spec.group_keys[request.group_key],
        "data": request.values,
        "profile_type_id": profile_type_id,
        "profile_hard_id": profile_key,
    }


def _profile_link(request: IngestRequest) -> tuple[int | None, str]:
    field = request.type.reference_field
    if field is None or request.values.get(field.cdp) is None:
        return None, ""
    return field.references_type_id, hard_id_key([request.values[field.cdp]])


def _upsert(caller, spec, request, hard_key) -> tuple[uuid.UUID, bool]:
    row = _row(caller, spec, request)
    db = connection
    pk = DataPoint._meta.pk.get_db_prep_value(uuid.uuid4(), db)
    now = db.ops.adapt_datetimefield_value(timezone.now())
    data = DataPoint._meta.get_field("data").get_db_prep_value(row["data"], db)
    customer_id, env = caller.customer.pk, caller.environment
    params = [
        pk, customer_id, env, request.type.id, row["group_key_id"], hard_key, data,
        row["profile_type_id"], row["profile_hard_id"],
        customer_id, env, row["profile_type_id"], row["profile_hard_id"],
        now, now,
    ]  # fmt: skip
    with db.cursor() as cursor:
        cursor.execute(_UPSERT, params)
        returned_id, revision = cursor.fetchone()
    return DataPoint._meta.pk.to_python(returned_id), revision == 1


def _store_by_id(caller, spec, request, hard_key) -> tuple[uuid.UUID, bool]:
    """A request naming its Datatalks ID: the same data point, or a Hard-ID change."""
    scope = _scope(caller, request.type)
    current = (
        DataPoint.objects.select_for_update()
        .filter(scope, pk=request.datatalks_id)
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
        return _upsert(caller, spec, request, hard_key)
    _ensure_hard_id_free(scope, request, hard_key)
    try:
        with transaction.atomic():
            DataPoint.objects.filter(pk=request.datatalks_id).update(
                hard_id=hard_key, revision=F("revision") + 1, **_row(caller, spec, request),
            )
    except IntegrityError:
        _ensure_hard_id_free(scope, request, hard_key)
        raise
    logger.info("Hard-ID changed", extra={"datatalks_id": str(request.datatalks_id)})
    return request.datatalks_id, True


def _ensure_hard_id_free(scope: Q, request: IngestRequest, hard_key: str) -> None:
    owner = DataPoint.objects.filter(scope, hard_id=hard_key).values_list("pk", flat=True)
    if owner_id := owner.first():
        shown = ", ".join(
            f"{f.source}={request.values[f.cdp]}" for f in request.type.hard_id_fields
        )
        raise PayloadInvalid(
            f"datatalksId: the Hard-ID ({shown}) already belongs to Datatalks ID "
            f"{owner_id}; nothing was changed or merged"
        )


def _scope(caller: ApiCaller, type_spec: TypeSpec) -> Q:
    return Q(
        customer_id=caller.customer.pk,
        environment=caller.environment,
        data_point_type_id=type_spec.id,
    )


def _record_secondary_ids(caller: ApiCaller, request: IngestRequest, dp_id) -> None:
    """Attaches secondary ids to the data point; a value owned by another is a collision."""
    if not any(f.secondary_id for f in request.type.fields):
        return
    wanted = {
        f.cdp: normalize_identifier(request.values[f.cdp])
        for f in request.type.fields
        if f.secondary_id and request.values.get(f.cdp) not in (None, "")
    }
    secondary = SecondaryIdentifier.objects.filter(
        customer_id=caller.customer.pk, environment=caller.environment
    )
    # Ids this data point no longer carries (an email that changed) are let go.
    secondary.filter(data_point_id=dp_id).exclude(_any_of(wanted)).delete()
    if not wanted:
        return
    SecondaryIdentifier.objects.bulk_create(
        [
            SecondaryIdentifier(
                customer_id=caller.customer.pk, environment=caller.environment,
                kind=kind, value=value, data_point_id=dp_id,
            )
            for kind, value in wanted.items()
        ],
        ignore_conflicts=True,
    )
    owned_by_others = secondary.filter(_any_of(wanted)).exclude(data_point_id=dp_id)
    collisions = [
        IdentityCollision(
            customer_id=caller.customer.pk, environment=caller.environment,
            kind=other.kind, value=other.value, owner_id=other.data_point_id,
            claimant_id=dp_id,
        )
        for other in owned_by_others
    ]  # fmt: skip
    if collisions:
        IdentityCollision.objects.bulk_create(collisions, ignore_conflicts=True)
        logger.warning("secondary id collision", extra={"datatalks_id": str(dp_id)})


def normalize_identifier(value: Any) -> str:
    """Trimmed and case-insensitive, as identities are matched; long ids are cut."""
    return str(value).strip().lower()[:SECONDARY_ID_MAX_LENGTH]


def _any_of(pairs: dict[str, str]) -> Q:
    if not pairs:
        return Q(pk__in=[])
    return Q(*(Q(kind=k, value=v) for k, v in pairs.items()), _connector=Q.OR)


def _is_referenced(spec: CustomerSpec, type_spec: TypeSpec) -> bool:
    return any(
        t.reference_field and t.reference_field.references_type_id == type_spec.id
        for t in spec.types.values()
    )


def _link_waiting_events(caller, type_spec: TypeSpec, hard_key: str, dp_id) -> None:
    """Links events that arrived before this profile to it."""
    DataPoint.objects.filter(
        customer_id=caller.customer.pk,
        environment=caller.environment,
        profile_type_id=type_spec.id,
        profile_hard_id=hard_key,
        profile__isnull=True,
    ).update(profile_id=dp_id)
