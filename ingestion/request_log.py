"""The request log: one RequestLog row per API request, so support can answer "what
happened to X".

The row is written by whoever answered: ``ingestion.apiview.ApiView`` for the API's
own endpoints (with what the service returned: the type and mapping version that judged
the body), ``ingestion.middleware.ApiRequestMiddleware`` for answers no API view gave
(413, 404, errors outside a view). Nothing is read back from the request.

An accepted single ingest on PostgreSQL is the exception that keeps it one round trip:
the view hands the service a ``LogEntry`` and ``ingestion.writes`` writes the row in the
data's own statement (``accepted_row``), so it exists exactly when the data does.
"""

import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import DatabaseError

from datatalks.api import DEPENDENCY_DOWN
from datatalks.outages import POSTGRESQL, dependency_row_lost

from .caller import ApiCaller
from .models import RequestLog
from .validation import Judgement

logger = logging.getLogger(__name__)


def request_log_write(
    *,
    request,
    caller: ApiCaller | None,
    status_code: int,
    answer: dict,
    judgement: Judgement,
    duration_ms: float,
    changed: bool | None = None,
) -> None:
    """Writes the row of one answered request; a database error only loses the row.

    Requests without a valid key get rows up to the per-minute budget only.
    """
    if caller is None and not _anonymous_budget.take(time.time()):
        return
    try:
        RequestLog.objects.create(
            request_id=request.request_id,
            customer=caller.customer if caller else None,
            access_key_id=caller.access_key_id if caller else "",
            environment=caller.environment if caller else "",
            method=request.method[:10],
            path=request.path[:300],
            type_name=judgement.type_name[:100],
            mapping_version=judgement.mapping_version,
            status_code=status_code,
            messages=answer.get("messages", []),
            datatalks_id=answer.get("datatalksId"),
            changed=changed,
            duration_ms=round(duration_ms, 3),
        )
    except DEPENDENCY_DOWN:
        dependency_row_lost(POSTGRESQL)  # the outage's lines count it
    except DatabaseError:
        logger.warning("request log not written: database error", exc_info=True)


class _AnonymousBudget:
    """Rows for requests without a valid key, counted per minute in this process."""

    def __init__(self):
        self._lock = threading.Lock()
        self._window = -1
        self._count = 0
        self._skipped = 0

    def take(self, now: float) -> bool:
        with self._lock:
            window = int(now // 60)
            if window != self._window:
                if self._skipped:
                    logger.warning(
                        "request log: %d requests without a valid key not logged "
                        "(over %d a minute)",
                        self._skipped,
                        settings.DATATALKS_REQUEST_LOG_ANONYMOUS_PER_MINUTE,
                    )
                self._window, self._count, self._skipped = window, 0, 0
            self._count += 1
            if self._count > settings.DATATALKS_REQUEST_LOG_ANONYMOUS_PER_MINUTE:
                self._skipped += 1
                return False
            return True


_anonymous_budget = _AnonymousBudget()


@dataclass(frozen=True, slots=True)
class LogEntry:
    """What the view knows of its request, for a service that writes the row itself."""

    request_id: uuid.UUID
    method: str
    path: str
    started: float  # time.perf_counter() when the request reached the view


def accepted_row(
    *, entry: LogEntry, caller: ApiCaller, judgement: Judgement, now: datetime
) -> dict[str, Any]:
    """The row of an accepted request, but its datatalks_id and changed (which the
    write that stores the data fills in), by column name."""
    return {
        "request_id": entry.request_id,
        "customer_id": caller.customer.pk,
        "access_key_id": caller.access_key_id,
        "environment": caller.environment,
        "method": entry.method[:10],
        "path": entry.path[:300],
        "type_name": judgement.type_name[:100],
        "mapping_version": judgement.mapping_version,
        "status_code": 200,
        "messages": "[]",
        "duration_ms": round((time.perf_counter() - entry.started) * 1000, 3),
        "created_at": now,
    }
