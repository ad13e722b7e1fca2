"""The Celery app: broker from settings (Redis, or kombu's filesystem transport)."""

import os
from pathlib import Path

from celery import Celery, bootsteps, signals
from django.conf import settings
from prometheus_client import start_http_server

from .metrics import process_dead, process_registry

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "datatalks.settings")

app = Celery("datatalks")
# The current app is per thread; as the default it is also the app of every other
# thread (Django's threaded servers), so shared tasks never fall back to a blank app.
app.set_default()
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


class HeartbeatFile(bootsteps.StartStopStep):
    """A worker's readiness: ``DATATALKS_WORKER_HEARTBEAT_FILE`` is touched every
    ``DATATALKS_WORKER_HEARTBEAT_SECONDS`` while the worker consumes from the broker,
    and removed when it stops consuming (broker lost, shutdown). A file older than
    three intervals, or none, means the worker is not ready (docs/operations.md)."""

    requires = {"celery.worker.consumer.tasks:Tasks"}

    def __init__(self, parent, **kwargs):
        super().__init__(parent, **kwargs)
        self.path = Path(settings.DATATALKS_WORKER_HEARTBEAT_FILE or ".")
        self.enabled = bool(settings.DATATALKS_WORKER_HEARTBEAT_FILE)
        self.interval = settings.DATATALKS_WORKER_HEARTBEAT_SECONDS
        self.timer_ref = None

    def start(self, consumer):
        if not self.enabled:
            return
        self.touch()
        self.timer_ref = consumer.timer.call_repeatedly(
            self.interval, self.touch, priority=10
        )

    def touch(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch()

    def stop(self, consumer):
        if self.timer_ref is not None:
            self.timer_ref.cancel()
            self.timer_ref = None
        if self.enabled:
            self.path.unlink(missing_ok=True)

    shutdown = stop


app.steps["consumer"].add(HeartbeatFile)


@signals.worker_process_shutdown.connect
def _pool_process_ended(pid=None, **kwargs):
    """A pool process's live gauges go with it (Prometheus multiprocess mode)."""
    process_dead(pid or os.getpid())


@signals.worker_ready.connect
def _metrics_server(**kwargs):
    """A worker-only node's metrics: served by the worker's main process, from the
    files its pool processes write (docs/operations.md)."""
    if settings.DATATALKS_WORKER_METRICS_PORT:
        start_http_server(
            settings.DATATALKS_WORKER_METRICS_PORT,
            addr=settings.DATATALKS_WORKER_METRICS_ADDRESS,
            registry=process_registry(),
        )
