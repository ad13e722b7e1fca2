"""Erasing a person: their values, secondary ids and linked events' values are wiped
in one transaction, their open deliveries are cancelled, their contact is deleted in
Salesmanago through the outbox, and the erasure is logged (docs/privacy.md)."""

import json
import logging
import uuid
from dataclasses import dataclass

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import CharField, F, Q, TextField, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from integrations.erasure import deliveries_erase, delivery_excerpts_erase
from integrations.models import SalesmanagoAccount
from integrations.tasks import wake_accounts
from mappings.models import Customer
from mappings.spec import config_revision_bump

from ..models import (
    DataPoint,
    IdentityCollision,
    RejectedRow,
    RejectionRollup,
    RequestLog,
    SecondaryIdentifier,
)
from .models import ErasureLog, Suppression
from .selectors import profile_of
from .suppression import digest, hard_id_text, secondary_id_text

logger = logging.getLogger(__name__)

# Values shorter than this are not looked for in free text (request-log messages,
# delivery excerpts): "12" or "yes" would match everyone's rows.
MIN_SCRUBBED_LENGTH = 4


@dataclass(frozen=True, slots=True)
class Erasure:
    """An erasure's outcome: the id, its log entry, and whether it had been done."""

    datatalks_id: uuid.UUID
    log: ErasureLog | None
    already: bool


def profile_erase(
    *,
    customer: Customer,
    environment: str,
    datatalks_id: uuid.UUID,
    suppress: bool,
    via: str,
    requested_by: str,
    reason: str = "",
    request_id: uuid.UUID | None = None,
) -> Erasure:
    """Erases one profile and the personal data linked to it; a second call changes
    nothing. Raises NotFound for an id that is not one of the customer's profiles."""
    with transaction.atomic():
        profile = _profile_for_update(customer, environment, datatalks_id)
        if profile.erased_at is not None:
            log = ErasureLog.objects.filter(datatalks_id=profile.pk).first()
            return Erasure(profile.pk, log, already=True)
        suppressed_texts = _suppression_texts(profile)
        log, accounts = _erase(profile, suppress=suppress)
        log.via, log.requested_by, log.reason = via, requested_by, reason
        log.request_id = request_id
        log.save()
        if suppress:
            _suppress(profile, log, suppressed_texts)
        if accounts:
            transaction.on_commit(lambda: wake_accounts(accounts))
    logger.info(
        "profile erased",
        extra={"datatalks_id": str(profile.pk), "via": via, "suppressed": suppress},
    )
    return Erasure(profile.pk, log, already=False)


def _profile_for_update(customer, environment, datatalks_id) -> DataPoint:
    return profile_of(
        DataPoint.objects.select_for_update(of=("self",)).select_related(
            "data_point_type"
        ),
        customer=customer,
        environment=environment,
        datatalks_id=datatalks_id,
    )


def _erase(profile: DataPoint, *, suppress: bool) -> tuple[ErasureLog, list[int]]:
    secondary = list(
        SecondaryIdentifier.objects.filter(data_point=profile).values_list(
            "kind", "value"
        )
    )
    event_ids = list(_linked_events(profile).values_list("pk", flat=True))
    ids = [profile.pk, *event_ids]
    identifiers = _identifying_values(profile, secondary)
    values = [v for v in profile.data.values() if isinstance(v, str | int)]
    queued = deliveries_erase(
        data_point=profile, event_ids=event_ids, revision=profile.revision + 1
    )
    erased = {
        "values": len(profile.data),
        "secondary_ids": len(secondary),
        "events": len(event_ids),
        "deliveries_cancelled": queued.cancelled,
        "salesmanago_event_ids": queued.event_ids,
        # A batch excerpt quotes each item whole, its e-mail and ids included: those
        # find every excerpt that holds the person (a city would find everyone's).
        "delivery_excerpts": delivery_excerpts_erase(
            data_point_ids=ids, patterns=_patterns(identifiers)
        ),
        **_scrub_records(profile, ids, secondary, _patterns([*identifiers, *values])),
    }
    _wipe(profile, event_ids)
    log = ErasureLog(
        customer_id=profile.customer_id,
        environment=profile.environment,
        datatalks_id=profile.pk,
        type_name=profile.data_point_type.name,
        suppressed=suppress,
        erased=erased,
        salesmanago_accounts=list(
            SalesmanagoAccount.objects.filter(pk__in=queued.accounts).values_list(
                "client_id", flat=True
            )
        ),
    )
    return log, queued.accounts


def _linked_events(profile: DataPoint):
    """Events linked to the profile, and those still waiting for it by Hard-ID."""
    waiting = Q(
        customer_id=profile.customer_id,
        environment=profile.environment,
        profile_type_id=profile.data_point_type_id,
        profile_hard_id=profile.hard_id,
    )
    return DataPoint.objects.filter(Q(profile=profile) | waiting).exclude(pk=profile.pk)


def _identifying_values(profile: DataPoint, secondary) -> list:
    """The values that name the person: Hard-ID, secondary ids, any e-mail address."""
    emails = [v for v in profile.data.values() if isinstance(v, str) and "@" in v]
    return [*profile.hard_id.split("\x1f"), *(v for _, v in secondary), *emails]


def _patterns(values: list) -> list[str]:
    """The values as they may appear in free text: as sent, and as JSON writes them
    (escaped, with and without non-ASCII escapes)."""
    texts = {str(v) for v in values if not isinstance(v, bool)}
    patterns = set()
    for text in texts:
        if len(text) < MIN_SCRUBBED_LENGTH:
            continue
        for form in (
            text,
            json.dumps(text)[1:-1],
            json.dumps(text, ensure_ascii=False)[1:-1],
        ):
            patterns.add(form[:60])  # messages show long values cut short
    return sorted(patterns)


def _matching(field: str, patterns: list[str]) -> Q:
    query = Q(pk__in=[])
    for pattern in patterns:
        query |= Q(**{f"{field}__icontains": pattern})
    return query


def _scrub_records(profile, ids, secondary, patterns) -> dict[str, int]:
    """Free text elsewhere that may quote the person: request-log messages, data
    health rollups, files' rejected rows, identity collisions, admin history."""
    customer_id = profile.customer_id
    as_text = {"text": Cast("messages", TextField())}
    logs = (
        RequestLog.objects.filter(customer_id=customer_id, status_code__gte=400)
        .annotate(**as_text)
        .filter(_matching("text", patterns))
    )
    rollups = RejectionRollup.objects.filter(customer_id=customer_id).filter(
        _matching("message", patterns)
    )
    rows = (
        RejectedRow.objects.filter(file__customer_id=customer_id)
        .annotate(**as_text)
        .filter(_matching("hard_id", patterns) | _matching("text", patterns))
    )
    values = [v for _, v in secondary]
    collisions = IdentityCollision.objects.filter(
        Q(owner_id__in=ids)
        | Q(claimant_id__in=ids)
        | Q(customer_id=customer_id, value__in=values)
    )
    history = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(DataPoint),
        object_id__in=[str(i) for i in ids],
    )
    return {
        "request_log_messages": RequestLog.objects.filter(
            pk__in=list(logs.values_list("pk", flat=True))
        ).update(messages=[]),
        "rejection_rollups": rollups.update(
            message=Concat(
                Value("(erased with a person's data) #"), Cast("pk", CharField())
            )
        ),
        "rejected_rows": RejectedRow.objects.filter(
            pk__in=list(rows.values_list("pk", flat=True))
        ).update(hard_id="", messages=[]),
        "identity_collisions": collisions.delete()[0],
        "admin_history": history.update(object_repr=F("object_id"), change_message=""),
    }


def _wipe(profile: DataPoint, event_ids: list[uuid.UUID]) -> None:
    now = timezone.now()
    SecondaryIdentifier.objects.filter(
        data_point_id__in=[profile.pk, *event_ids]
    ).delete()
    DataPoint.objects.filter(pk__in=event_ids).update(
        data={},
        hard_id=Concat(Value("[erased "), Cast("pk", CharField()), Value("]")),
        profile_hard_id="",
        erased_at=now,
        updated_at=now,
    )
    DataPoint.objects.filter(pk=profile.pk).update(
        data={},
        hard_id=f"[erased {profile.pk}]",
        revision=F("revision") + 1,
        erased_at=now,
        updated_at=now,
    )


def _suppression_texts(profile: DataPoint) -> dict[str, str]:
    """The texts suppression hashes for this person, and what each one is."""
    type_name = profile.data_point_type.name
    texts = {
        hard_id_text(profile.data_point_type_id, profile.hard_id): (
            f"Hard-ID of {type_name}"
        )
    }
    secondary = SecondaryIdentifier.objects.filter(data_point=profile)
    for kind, value in secondary.values_list("kind", "value"):
        texts[secondary_id_text(kind, value)] = kind
    return texts


def _suppress(profile: DataPoint, log: ErasureLog, texts: dict[str, str]) -> None:
    """Keeps the person's identifiers (hashed) so their data is refused from now on."""
    Suppression.objects.bulk_create(
        [
            Suppression(
                customer_id=profile.customer_id,
                environment=profile.environment,
                digest=digest(text),
                what=what[:120],
                erasure=log,
            )
            for text, what in texts.items()
        ],
        ignore_conflicts=True,
    )
    # Suppressions are part of what the ingest path checks: its cache goes stale.
    config_revision_bump(pk=profile.customer_id)


def suppressions_lift(*, ids, lifted_by: str) -> int:
    """Staff: later data of these suppressed persons is accepted again."""
    lifted = Suppression.objects.filter(pk__in=list(ids), lifted_at__isnull=True)
    customers = set(lifted.values_list("customer_id", flat=True))
    count = lifted.update(lifted_at=timezone.now(), lifted_by=lifted_by[:150])
    config_revision_bump(pk__in=customers)
    return count
