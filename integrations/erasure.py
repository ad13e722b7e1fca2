"""A person's erasure, as delivery sees it: their open deliveries are cancelled, and
an erase delivery per Salesmanago account their contact was sent to deletes it there,
through the outbox (the same claim, retries and record as any send)."""

import uuid
from dataclasses import dataclass

from django.db.models import F, Q, Value
from django.db.models.functions import Concat
from django.utils import timezone

from mappings.models import Category

from .models import (
    OPEN_STATUSES,
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    SalesmanagoEvent,
)
from .services import contact_email_of

# What an erasure stops: every open delivery, anything not yet (or not surely) in
# Salesmanago. Failed and dead sends are closed too, so no Retry or Replay can send the
# person later.


@dataclass(frozen=True, slots=True)
class ErasureQueued:
    """What an erasure did to delivery: deliveries cancelled, Salesmanago event ids
    forgotten, accounts to erase in."""

    cancelled: int
    event_ids: int
    accounts: list[int]


def deliveries_erase(
    *, data_point, event_ids: list[uuid.UUID], revision: int
) -> ErasureQueued:
    """Cancels the person's open deliveries and queues the contact's deletion.

    Runs in the erasure's transaction, before the values are wiped (the contact's
    e-mail is read from them). ``data_point`` is the profile (``ingestion.DataPoint``);
    ``revision`` the one the erasure gives it.
    """
    reached = (
        Delivery.objects.filter(data_point_id=data_point.pk, kind=DeliveryKind.UPSERT)
        .filter(Q(status=DeliveryStatus.SENT) | Q(call_started_at__isnull=False))
        .values_list("account_id", flat=True)
        .distinct()
        .order_by()
    )
    accounts = sorted(set(reached))
    cancelled = Delivery.objects.filter(
        data_point_id__in=[data_point.pk, *event_ids], status__in=OPEN_STATUSES
    ).update(
        status=DeliveryStatus.CANCELLED,
        claim=None,
        call_started_at=None,
        last_error=Concat(
            Value("Cancelled: the person was erased (it was "), F("status"), Value(").")
        ),
    )
    # The contact's deletion takes its events; none of them is updated again.
    forgotten = SalesmanagoEvent.objects.filter(data_point_id__in=event_ids).delete()[0]
    if accounts:
        email = contact_email_of(data_point=data_point)
        now = timezone.now()
        Delivery.objects.bulk_create(
            Delivery(
                account_id=account_id,
                data_point_id=data_point.pk,
                revision=revision,
                category=Category.PROFILE,
                kind=DeliveryKind.ERASE,
                contact_email=email,
                next_attempt_at=now,
            )
            for account_id in accounts
        )
    return ErasureQueued(cancelled=cancelled, event_ids=forgotten, accounts=accounts)


def delivery_excerpts_erase(*, data_point_ids: list, patterns: list[str]) -> int:
    """Empties the request and response excerpts that may quote the person: a batch's
    excerpt is kept on each of its deliveries, so a neighbour's row can quote them.
    Looked for in the accounts the person's deliveries went to."""
    if not patterns:
        return 0
    accounts = (
        Delivery.objects.filter(data_point_id__in=data_point_ids)
        .values_list("account_id", flat=True)
        .distinct()
        .order_by()
    )
    rows = Delivery.objects.filter(account_id__in=list(accounts))
    excerpts, errors = Q(pk__in=[]), Q(pk__in=[])
    for pattern in patterns:
        excerpts |= Q(request_excerpt__icontains=pattern)
        excerpts |= Q(response_excerpt__icontains=pattern)
        errors |= Q(last_error__icontains=pattern)
    rows.filter(errors).update(last_error="(erased: it quoted an erased person)")
    return rows.filter(excerpts).update(request_excerpt="", response_excerpt="")
