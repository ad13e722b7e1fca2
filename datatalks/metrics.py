"""Prometheus exposition: what ``GET /metrics`` serves, and who may read it.

Counters and histograms are defined where they are counted (ingestion.metrics,
integrations.salesmanago.metrics, integrations.metrics) with prometheus-client. With
``PROMETHEUS_MULTIPROC_DIR`` set (gunicorn.conf.py and scripts/run.sh set it) every
process writes its values to files there and a scrape adds up all processes of the
node, the Celery worker's too when it shares the directory; without it (tests, a
single process) the values are this process's own.
"""

import hmac
import os

from django.conf import settings
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)

CONTENT_TYPE = CONTENT_TYPE_LATEST


def process_registry() -> CollectorRegistry:
    """The counted metrics: every process of this node's in multiprocess mode."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def exposition(*collectors) -> bytes:
    """The text format of the counted metrics and of ``collectors`` (computed now)."""
    computed = CollectorRegistry(auto_describe=False)
    for collector in collectors:
        computed.register(collector)
    return generate_latest(process_registry()) + generate_latest(computed)


def metrics_enabled() -> bool:
    """/metrics exists only when a token is set: without one it answers 404."""
    return bool(settings.DATATALKS_METRICS_TOKEN)


def bearer_allowed(authorization: str) -> bool:
    """Whether an Authorization header carries the metrics token (constant time)."""
    scheme, _, token = authorization.partition(" ")
    expected = settings.DATATALKS_METRICS_TOKEN.encode()
    return scheme.lower() == "bearer" and hmac.compare_digest(
        token.strip().encode(), expected
    )


def process_dead(pid: int) -> None:
    """Drops a dead process's live gauges (gunicorn child_exit, a Celery child's
    shutdown); its counters stay counted, as Prometheus expects of counters."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid)
