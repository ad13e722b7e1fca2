"""Thin Celery entry points: files (ingestion.files.services), the request log's
rollup for the data health page (rollups.py), and retention (privacy/retention.py)."""

from celery import shared_task
from django.conf import settings

from .files import services
from .privacy.retention import retention_enforce
from .rollups import requestlog_rollup

# Redelivered if a worker dies (acks_late); a file's progress is in the database, so a
# second run resumes where the first committed. The hard limit is well past a slice.
FILE_TASK = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "time_limit": settings.DATATALKS_FILE_SLICE_SECONDS * 10,
}


@shared_task(name="ingestion.tasks.file_process_task", **FILE_TASK)
def file_process_task(file_id: str) -> None:
    """Processes a slice of the file, then queues the rest as a new task."""
    if services.file_process(file_id=file_id):
        services.file_enqueue(file_id=file_id)


@shared_task(name="ingestion.tasks.files_sweep_task", **FILE_TASK)
def files_sweep_task() -> int:
    """Beat: queues files whose worker died, deletes files past their retention."""
    queued = services.files_sweep()
    for file_id in queued:
        services.file_enqueue(file_id=file_id)
    services.files_expire()
    return len(queued)


@shared_task(
    name="ingestion.tasks.requestlog_rollup_task", acks_late=True, time_limit=600
)
def requestlog_rollup_task() -> int:
    """Counts the request log rows logged since the last run (beat, every minute)."""
    return requestlog_rollup()


@shared_task(name="ingestion.tasks.retention_task", acks_late=True, time_limit=3600)
def retention_task() -> dict[str, int]:
    """Beat: deletes what is past each customer's retention periods, in batches."""
    return retention_enforce()
