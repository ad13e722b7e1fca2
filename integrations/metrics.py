"""Delivery metrics: outcomes counted by the worker as it records them, and the outbox
read from the database when Prometheus scrapes (so every web node reports the same
numbers and no process has to count rows it never touched)."""

import logging

from django.db import DatabaseError
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

from .models import OPEN_STATUSES, Delivery, DeliveryStatus, SalesmanagoAccount

logger = logging.getLogger(__name__)

DELIVERIES = Counter(
    "datatalks_deliveries",
    "Delivery outcomes recorded by the workers, by account id and outcome: sent, "
    "failed (refused, not retried), requeued (a transient error, or an event waiting "
    "for its contact: sent later), dead (past the max age).",
    ["account", "outcome"],
)
LAG = Histogram(
    "datatalks_delivery_lag_seconds",
    "From a delivery's outbox row to Salesmanago's acceptance, by account id.",
    ["account"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 900, 1800, 3600, 4 * 3600, 24 * 3600),
)
OUTCOMES = {
    DeliveryStatus.SENT: "sent",
    DeliveryStatus.FAILED: "failed",
    DeliveryStatus.PENDING: "requeued",
    DeliveryStatus.DEAD: "dead",
}


def deliveries_observe(*, account_id: int, status: str, deliveries, count: int) -> None:
    """Counts ``count`` deliveries of one account recorded with ``status``."""
    account = str(account_id)
    DELIVERIES.labels(account, OUTCOMES.get(status, status)).inc(count)
    if status == DeliveryStatus.SENT and count:
        now = timezone.now()
        lag = LAG.labels(account)
        for delivery in deliveries:
            lag.observe((now - delivery.created_at).total_seconds())


class OutboxCollector:
    """The outbox as it stands: open rows by account and status, the age of each
    account's oldest pending row, and which customer each account belongs to."""

    def collect(self):
        up = GaugeMetricFamily(
            "datatalks_outbox_up", "1 when the outbox could be read for this scrape."
        )
        try:
            rows, accounts = self._read()
        except DatabaseError as exc:
            logger.warning("metrics: outbox not read: %s", exc.__class__.__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from self._families(rows, accounts)

    def _read(self):
        rows = list(
            Delivery.objects.filter(status__in=OPEN_STATUSES)
            .values("account_id", "status")
            .annotate(count=Count("pk"), oldest=Min("created_at"))
            .order_by()
        )
        accounts = list(
            SalesmanagoAccount.objects.values_list(
                "pk", "customer__slug", "environment", "client_id"
            )
        )
        return rows, accounts

    def _families(self, rows, accounts):
        depth = GaugeMetricFamily(
            "datatalks_outbox_deliveries",
            "Outbox rows not sent (pending, sending, failed, dead, unknown), by "
            "account id and status.",
            labels=["account", "status"],
        )
        age = GaugeMetricFamily(
            "datatalks_outbox_oldest_pending_age_seconds",
            "Age of the account's oldest pending delivery (0: none pending).",
            labels=["account"],
        )
        info = GaugeMetricFamily(
            "datatalks_salesmanago_account_info",
            "1 per Salesmanago account: its customer, environment and clientId.",
            labels=["account", "customer", "environment", "client_id"],
        )
        now = timezone.now()
        found = {(row["account_id"], row["status"]): row for row in rows}
        for pk, customer, environment, client_id in accounts:
            info.add_metric([str(pk), customer, environment, client_id], 1)
            for status in OPEN_STATUSES:
                row = found.get((pk, status))
                depth.add_metric([str(pk), status], row["count"] if row else 0)
            pending = found.get((pk, DeliveryStatus.PENDING))
            oldest = (now - pending["oldest"]).total_seconds() if pending else 0.0
            age.add_metric([str(pk)], max(0.0, oldest))
        yield from (depth, age, info)
