# ruff: noqa: S608  (the SQL is composed from table names only; values are parameters)
"""Hourly and daily counts of the request log, for the data health page.

The ingest path never writes here: a beat task rolls up what was logged since the last
run (``RollupMark``), a minute behind the clock so that a request logged late is not
missed, and the page adds the few rows not rolled up yet from the log itself. Counting
is by increments (ON CONFLICT ... + excluded), the same SQL on PostgreSQL and SQLite.
"""

import logging
from collections import Counter
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.db.models import Count, Q
from django.db.models.functions import TruncHour
from django.utils import timezone

from .models import RejectionRollup, RequestLog, RequestRollup, RollupMark

logger = logging.getLogger(__name__)

ROLLUP_LAG = timedelta(minutes=1)
MESSAGE_CHARS = 300
MARK = "requests"
ACCEPTED = Q(status_code__lt=400)
REJECTED = Q(status_code__gte=400)

_HOURS = RequestRollup._meta.db_table
_HOURS_UPSERT = (
    f"INSERT INTO {_HOURS} (customer_id, hour, type_name, accepted, rejected) "
    "VALUES {rows} ON CONFLICT (customer_id, hour, type_name) DO UPDATE SET "
    f"accepted = {_HOURS}.accepted + excluded.accepted, "
    f"rejected = {_HOURS}.rejected + excluded.rejected"
)
_DAYS = RejectionRollup._meta.db_table
_DAYS_UPSERT = (
    f"INSERT INTO {_DAYS} (customer_id, day, message, count, example_request_id) "
    "VALUES {rows} ON CONFLICT (customer_id, day, message) DO UPDATE SET "
    f"count = {_DAYS}.count + excluded.count, "
    "example_request_id = excluded.example_request_id"
)
BATCH = 500


def rollup_mark() -> datetime | None:
    """Where the rollup stands: log rows created before it are counted."""
    return RollupMark.objects.filter(name=MARK).values_list("until", flat=True).first()


@transaction.atomic
def requestlog_rollup(*, until: datetime | None = None) -> int:
    """Counts the log rows created since the last run (up to ``until``, by default a
    minute ago) into the hourly and daily rollups; returns how many rows it read.

    The mark moves in the same transaction as the counts, under a row lock, so two runs
    never count a row twice.
    """
    until = until or timezone.now() - ROLLUP_LAG
    first = RequestLog.objects.order_by("created_at").values_list(
        "created_at", flat=True
    )
    mark, _ = RollupMark.objects.select_for_update().get_or_create(
        name=MARK, defaults={"until": first.first() or until}
    )
    if until <= mark.until:
        return 0
    window = RequestLog.objects.filter(
        created_at__gte=mark.until, created_at__lt=until, customer__isnull=False
    )
    read = _hours(window) + _rejections(window)
    mark.until = until
    mark.save(update_fields=["until"])
    logger.info("request log rolled up", extra={"until": until.isoformat()})
    return read


def hourly_counts(queryset) -> list[dict]:
    """Accepted and rejected per (customer, hour, type) of the log rows given."""
    return list(
        queryset.annotate(hour=TruncHour("created_at"))
        .values("customer_id", "hour", "type_name")
        .annotate(
            accepted=Count("pk", filter=ACCEPTED), rejected=Count("pk", filter=REJECTED)
        )
        .order_by()
    )


def _hours(window) -> int:
    rows = hourly_counts(window)
    params = []
    for row in rows:
        params += [
            row["customer_id"],
            connection.ops.adapt_datetimefield_value(row["hour"]),
            row["type_name"],
            row["accepted"],
            row["rejected"],
        ]
    _upsert(_HOURS_UPSERT, params, 5)
    return sum(r["accepted"] + r["rejected"] for r in rows)


def rejection_counts(queryset) -> dict[tuple[int, object, str], tuple[int, str]]:
    """(customer, day, message) -> (count, the latest request id) of the rows given."""
    counts: Counter = Counter()
    examples: dict = {}
    rejected = queryset.filter(REJECTED).order_by("created_at")
    for customer_id, created, request_id, messages in rejected.values_list(
        "customer_id", "created_at", "request_id", "messages"
    ).iterator(chunk_size=2000):
        day = created.astimezone(UTC).date()
        for message in messages or ["(no message)"]:
            key = (customer_id, day, str(message)[:MESSAGE_CHARS])
            counts[key] += 1
            examples[key] = str(request_id)
    return {key: (count, examples[key]) for key, count in counts.items()}


def _rejections(window) -> int:
    params = []
    for (customer_id, day, message), (count, example) in rejection_counts(
        window
    ).items():
        params += [
            customer_id,
            connection.ops.adapt_datefield_value(day),
            message,
            count,
            RejectionRollup._meta.get_field("example_request_id").get_db_prep_value(
                example, connection
            ),
        ]
    _upsert(_DAYS_UPSERT, params, 5)
    return 0


def _upsert(sql: str, params: list, width: int) -> None:
    step = BATCH * width
    with connection.cursor() as cursor:
        for start in range(0, len(params), step):
            chunk = params[start : start + step]
            rows = ", ".join(
                ["(" + ", ".join(["%s"] * width) + ")"] * (len(chunk) // width)
            )
            cursor.execute(sql.format(rows=rows), chunk)
