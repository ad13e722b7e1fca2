"""The data health page's figures for one customer (selectors, read-only).

Requests come from the hourly and daily rollups (ingestion/rollups.py) plus the log
rows not rolled up yet (at most a few minutes, found through the log's index on
(customer, created_at)), so the page does the same work at ten million log rows as at
ten. Deliveries are counted through partial indexes on their open states and sends.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.db.models import (
    Avg,
    CharField,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Max,
    Sum,
)
from django.db.models.functions import Cast, TruncDate
from django.utils import timezone

from integrations.models import (
    OPEN_STATUSES,
    Delivery,
    DeliveryStatus,
    SalesmanagoAccount,
)
from mappings.models import Customer

from .models import RejectionRollup, RequestLog, RequestRollup
from .rollups import hourly_counts, rejection_counts, rollup_mark

HOURS = 24
DAYS = 30
TOP_MESSAGES = 10


def _total(buckets: str, column: int) -> property:
    """The sum of one column (1: accepted, 2: rejected) of a Series' ``buckets``."""
    return property(lambda series: sum(row[column] for row in getattr(series, buckets)))


@dataclass
class Series:
    """Accepted and rejected counts of one type, one bucket per hour or day."""

    type_name: str
    hours: list[tuple[datetime, int, int]] = field(default_factory=list)
    days: list[tuple[date, int, int]] = field(default_factory=list)

    accepted_24h = _total("hours", 1)
    rejected_24h = _total("hours", 2)
    accepted_30d = _total("days", 1)
    rejected_30d = _total("days", 2)


@dataclass(frozen=True)
class Rejection:
    message: str
    count: int
    example_request_id: str


@dataclass(frozen=True)
class AccountHealth:
    account: SalesmanagoAccount
    sent_24h: int
    lag_avg: timedelta | None
    lag_max: timedelta | None
    by_status: dict[str, int]


@dataclass(frozen=True)
class Health:
    now: datetime
    rolled_until: datetime | None
    series: list[Series]
    rejections: list[Rejection]
    accounts: list[AccountHealth]


def customer_health(*, customer: Customer, now: datetime | None = None) -> Health:
    """Everything the data health page shows for one customer."""
    now = now or timezone.now()
    mark = rollup_mark()
    tail = RequestLog.objects.filter(customer=customer)
    if mark is not None:
        tail = tail.filter(created_at__gte=mark)
    hour_now = now.replace(minute=0, second=0, microsecond=0)
    return Health(
        now=now,
        rolled_until=mark,
        series=_series(customer, tail, hour_now),
        rejections=_rejections(customer, tail, now.date() - timedelta(days=DAYS - 1)),
        accounts=_accounts(customer, now),
    )


def _series(customer, tail, hour_now: datetime) -> list[Series]:
    first_hour = hour_now - timedelta(hours=HOURS - 1)
    first_day = hour_now.date() - timedelta(days=DAYS - 1)
    hourly: dict[str, dict[datetime, list[int]]] = defaultdict(
        lambda: defaultdict(lambda: [0, 0])
    )
    daily: dict[str, dict[date, list[int]]] = defaultdict(
        lambda: defaultdict(lambda: [0, 0])
    )
    rolled = RequestRollup.objects.filter(customer=customer, hour__gte=first_hour)
    for row in rolled.values("hour", "type_name", "accepted", "rejected"):
        _add(hourly[row["type_name"]][row["hour"]], row)
    by_day = (
        RequestRollup.objects.filter(
            customer=customer,
            hour__gte=datetime.combine(first_day, datetime.min.time(), tzinfo=UTC),
        )
        .annotate(day=TruncDate("hour"))
        .values("day", "type_name")
        .annotate(accepted=Sum("accepted"), rejected=Sum("rejected"))
        .order_by()
    )
    for row in by_day:
        _add(daily[row["type_name"]][row["day"]], row)
    for row in hourly_counts(tail):
        _add(hourly[row["type_name"]][row["hour"]], row)
        _add(daily[row["type_name"]][row["hour"].date()], row)
    hours = [first_hour + timedelta(hours=i) for i in range(HOURS)]
    days = [first_day + timedelta(days=i) for i in range(DAYS)]
    names = sorted(set(hourly) | set(daily), key=lambda n: (n == "", n))
    return [
        Series(
            type_name=name,
            hours=[(h, *hourly[name].get(h, (0, 0))) for h in hours],
            days=[(d, *daily[name].get(d, (0, 0))) for d in days],
        )
        for name in names
    ]


def _add(bucket: list[int], row: dict) -> None:
    bucket[0] += row["accepted"] or 0
    bucket[1] += row["rejected"] or 0


def _rejections(customer, tail, first_day: date) -> list[Rejection]:
    totals: dict[str, list] = {}
    rolled = (
        RejectionRollup.objects.filter(customer=customer, day__gte=first_day)
        .values("message")
        .annotate(
            total=Sum("count"),
            example=Max(Cast("example_request_id", output_field=CharField())),
        )
        .order_by("-total")[:100]
    )
    for row in rolled:
        totals[row["message"]] = [row["total"], str(row["example"])]
    for (_, _, message), (count, example) in rejection_counts(tail).items():
        entry = totals.setdefault(message, [0, example])
        entry[0] += count
        entry[1] = example
    top = sorted(totals.items(), key=lambda item: -item[1][0])[:TOP_MESSAGES]
    return [Rejection(message, count, example) for message, (count, example) in top]


def _accounts(customer, now: datetime) -> list[AccountHealth]:
    accounts = list(
        SalesmanagoAccount.objects.filter(customer=customer).select_related("group_key")
    )
    lag = ExpressionWrapper(
        F("sent_at") - F("created_at"), output_field=DurationField()
    )
    sent = {
        row["account_id"]: row
        for row in Delivery.objects.filter(
            account__in=accounts,
            status=DeliveryStatus.SENT,
            sent_at__gte=now - timedelta(hours=HOURS),
        )
        .values("account_id")
        .annotate(count=Count("pk"), lag_avg=Avg(lag), lag_max=Max(lag))
        .order_by()
    }
    open_counts: dict[int, dict[str, int]] = defaultdict(dict)
    for row in (
        Delivery.objects.filter(account__in=accounts, status__in=OPEN_STATUSES)
        .values("account_id", "status")
        .annotate(count=Count("pk"))
        .order_by()
    ):
        open_counts[row["account_id"]][row["status"]] = row["count"]
    return [
        AccountHealth(
            account=account,
            sent_24h=sent.get(account.pk, {}).get("count", 0),
            lag_avg=sent.get(account.pk, {}).get("lag_avg"),
            lag_max=sent.get(account.pk, {}).get("lag_max"),
            by_status={s: open_counts[account.pk].get(s, 0) for s in OPEN_STATUSES},
        )
        for account in accounts
    ]
