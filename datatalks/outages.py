"""Logging while a dependency is down: one line per failed request (an API request or
a /readyz probe), no traceback; a summary line every ``DATATALKS_OUTAGE_SUMMARY_SECONDS``
while it stays down; one line when it is back (a request served, a probe passed).
Counted per process (each gunicorn worker writes its own summary).
"""

import logging
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings

logger = logging.getLogger(__name__)

POSTGRESQL = "PostgreSQL"
BROKER = "Celery broker"


@dataclass
class Outage:
    """One dependency's outage as this process has seen it."""

    since: float = field(default_factory=time.monotonic)
    summary_at: float = field(default_factory=time.monotonic)
    failed: int = 0
    failed_since_summary: int = 0
    rows_lost: int = 0


_outages: dict[str, Outage] = {}
_lock = threading.Lock()


def dependency_failed(dependency: str, cause: str, *, method: str, path: str):
    """Logs one request refused because ``dependency`` failed (answered 503);
    ``cause`` is the error's name (and, for a probe, its first line)."""
    now = time.monotonic()
    with _lock:
        outage = _outages.setdefault(dependency, Outage())
        outage.failed += 1
        outage.failed_since_summary += 1
        summary = None
        if now - outage.summary_at >= settings.DATATALKS_OUTAGE_SUMMARY_SECONDS:
            summary = (now - outage.since, now - outage.summary_at)
            summary += (outage.failed_since_summary, outage.failed, outage.rows_lost)
            outage.summary_at, outage.failed_since_summary = now, 0
    logger.error(
        "%s unavailable (%s): %s %s answered 503",
        dependency,
        cause,
        method,
        path,
    )
    if summary:
        logger.error(
            "%s still unavailable after %.0f s: %d requests failed in the last "
            "%.0f s (%d in all), %d request log rows lost",
            dependency,
            summary[0],
            summary[2],
            summary[1],
            summary[3],
            summary[4],
        )


def dependency_row_lost(dependency: str) -> None:
    """Counts a request log row not written because ``dependency`` failed; the
    request's own line (or the summary) says so."""
    with _lock:
        _outages.setdefault(dependency, Outage()).rows_lost += 1


def dependency_back(dependency: str) -> None:
    """``dependency`` just served a request: ends its outage with one line."""
    if dependency not in _outages:  # the usual case: no lock, no work
        return
    with _lock:
        outage = _outages.pop(dependency, None)
    if outage:
        logger.warning(
            "%s is back after %.0f s: %d requests failed, %d request log rows lost",
            dependency,
            time.monotonic() - outage.since,
            outage.failed,
            outage.rows_lost,
        )
