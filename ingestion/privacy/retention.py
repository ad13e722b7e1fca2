"""Retention: what is past its customer's period is deleted by a beat task, a batch
of DATATALKS_RETENTION_BATCH rows per short transaction, so ingestion (which only
inserts and updates other rows) is never held up by it.

- The request log and the data health page's rejection counts: the customer's
  request-log period (default DATATALKS_RETENTION_REQUEST_LOG_DAYS, 90).
- Deliveries that ended: the customer's deliveries period (default
  DATATALKS_RETENTION_DELIVERIES_DAYS, 30). The latest sent delivery of each data
  point and account stays, without its excerpts: it is how the outbox knows a
  contact is in Salesmanago (an event waits for it; an erasure deletes it there).
  Erase deliveries stay: they are the erasure log's Salesmanago outcome.
- Uploaded files and their rejected rows: DATATALKS_FILE_RETENTION_DAYS, by the
  files' own sweeper (ingestion/files/services.py).
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from integrations.models import Delivery, DeliveryKind, DeliveryStatus
from mappings.models import Customer

from ..models import RejectionRollup, RequestLog

logger = logging.getLogger(__name__)

ENDED = [
    DeliveryStatus.SUPERSEDED,
    DeliveryStatus.CANCELLED,
    DeliveryStatus.FAILED,
    DeliveryStatus.DEAD,
]


def retention_enforce(*, now=None) -> dict[str, int]:
    """Deletes (or trims) what is past each customer's periods; returns the counts."""
    now = now or timezone.now()
    done = {"request_log": 0, "rejection_rollups": 0, "deliveries": 0, "trimmed": 0}
    periods = Customer.objects.values_list(
        "pk", "retention__request_log_days", "retention__deliveries_days"
    )
    for customer_id, log_days, delivery_days in periods:
        log_cutoff = now - timedelta(
            days=log_days or settings.DATATALKS_RETENTION_REQUEST_LOG_DAYS
        )
        delivery_cutoff = now - timedelta(
            days=delivery_days or settings.DATATALKS_RETENTION_DELIVERIES_DAYS
        )
        done["request_log"] += _delete(
            RequestLog.objects.filter(
                customer_id=customer_id, created_at__lt=log_cutoff
            )
        )
        done["rejection_rollups"] += _delete(
            RejectionRollup.objects.filter(
                customer_id=customer_id, day__lt=log_cutoff.date()
            )
        )
        deliveries = Delivery.objects.filter(
            account__customer_id=customer_id,
            kind=DeliveryKind.UPSERT,
            created_at__lt=delivery_cutoff,
        )
        done["deliveries"] += _delete(deliveries.filter(_ended_or_sent_again()))
        done["trimmed"] += _trim(deliveries.filter(status=DeliveryStatus.SENT))
    default = now - timedelta(days=settings.DATATALKS_RETENTION_REQUEST_LOG_DAYS)
    # Requests of no customer: refused signatures, unknown paths.
    done["request_log"] += _delete(
        RequestLog.objects.filter(customer__isnull=True, created_at__lt=default)
    )
    if any(done.values()):
        logger.info("retention: %s", done)
    return done


def _ended_or_sent_again() -> Q:
    """Ended sends, and sent ones a later send of the same data point replaced."""
    later = Delivery.objects.filter(
        data_point_id=OuterRef("data_point_id"),
        account_id=OuterRef("account_id"),
        kind=DeliveryKind.UPSERT,
        status=DeliveryStatus.SENT,
        revision__gt=OuterRef("revision"),
    )
    return Q(status__in=ENDED) | Q(Exists(later), status=DeliveryStatus.SENT)


def _delete(queryset) -> int:
    """Deletes the rows a batch at a time, each batch its own short transaction."""
    model, total = queryset.model, 0
    size = settings.DATATALKS_RETENTION_BATCH
    while True:
        batch = list(queryset.values_list("pk", flat=True).order_by()[:size])
        if not batch:
            return total
        with transaction.atomic():
            total += model.objects.filter(pk__in=batch).delete()[0]


def _trim(sent) -> int:
    """Empties the excerpts of the sends kept as a record, a batch at a time."""
    quoting = sent.exclude(request_excerpt="", response_excerpt="")
    total, size = 0, settings.DATATALKS_RETENTION_BATCH
    while True:
        batch = list(quoting.values_list("pk", flat=True).order_by()[:size])
        if not batch:
            return total
        total += Delivery.objects.filter(pk__in=batch).update(
            request_excerpt="", response_excerpt=""
        )
