"""Writes of file uploads: accept a received file, process it chunk by chunk, re-queue
files whose worker died, delete files past their retention.

Each chunk goes through the batch endpoint's validation and write path in one
transaction together with its progress and rejected rows, so a worker killed mid-file
resumes after the last committed chunk: no row lost, none written twice.
"""

import datetime as dt
import logging
import time
import uuid
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Q, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from datatalks.errors import ApiError, PayloadInvalid
from ingestion.caller import ApiCaller
from ingestion.models import FileStatus, FileUpload, RejectedRow
from ingestion.services import ItemResult, datapoints_ingest_batch
from ingestion.validation import check_group_key, check_type
from mappings.spec import TypeSpec, spec_for_customer
from mappings.types import DataType, datetime_pattern

from .formats import FileUnreadable, Row, format_detect, hard_id_missing, head_check
from .readers import Reader
from .receiving import PREFIX, ReceivedFile, file_discard, files_storage

logger = logging.getLogger(__name__)


def file_accept(
    *,
    caller: ApiCaller,
    category: str,
    type_name: str | None,
    group_key: str | None,
    received: ReceivedFile,
    uploaded_by: str = "",
) -> FileUpload:
    """Checks what can be told before processing, records the file and queues it.

    Raises PayloadInvalid (400) or UnsupportedFormat (415); a refused file is deleted.
    """
    try:
        with transaction.atomic():
            upload = _accept(caller, category, type_name, group_key, received)
            upload.uploaded_by = uploaded_by
            upload.save()
            transaction.on_commit(lambda: file_enqueue(file_id=upload.pk))
    except ApiError:
        file_discard(received)
        raise
    logger.info("file %s queued (%d bytes)", upload.pk, upload.size)
    return upload


def _accept(caller, category, type_name, group_key, received) -> FileUpload:
    spec = spec_for_customer(customer=caller.customer)
    errors: list[str] = []
    type_spec = check_type(type_name, spec, category, errors)
    body = {} if group_key is None else {"groupKey": group_key}
    check_group_key(body, spec, "v3", errors)
    if errors:
        raise PayloadInvalid(*errors)
    if received.size == 0:
        raise PayloadInvalid("The file is empty.")
    fmt = format_detect(content_type=received.content_type, head=received.head)
    columns = head_check(fmt=fmt, head=received.head, complete=received.complete_head)
    if columns is not None and (problem := hard_id_missing(type_spec, columns)):
        raise PayloadInvalid(problem)
    return FileUpload(
        customer=caller.customer,
        environment=caller.environment,
        access_key_id=caller.access_key_id,
        category=category,
        type_name=type_spec.name,
        group_key=group_key or "",
        format=fmt,
        storage_name=received.name,
        size=received.size,
        sha256=received.sha256,
    )


def file_enqueue(*, file_id: uuid.UUID) -> None:
    """Queues processing; a broker outage only delays it (the sweeper queues it)."""
    from ingestion import tasks  # tasks call this module: imported when first used

    try:
        tasks.file_process_task.apply_async((str(file_id),), retry=False)
    except Exception:  # the broker can fail in many ways; the row is safe
        logger.warning(
            "broker unavailable; file %s waits for the sweeper", file_id, exc_info=True
        )


def file_process(*, file_id: uuid.UUID | str) -> bool:
    """Processes the file for up to DATATALKS_FILE_SLICE_SECONDS from where it stands.

    Returns True when rows are left (queue it again). A file that cannot be read ends
    ``failed`` with the reason; rows that cannot be stored are rejected one by one.
    """
    claim = _claim(file_id)
    if claim is None:
        return False
    upload = FileUpload.objects.select_related("customer").get(pk=file_id)
    if upload.takeovers > settings.DATATALKS_FILE_MAX_TAKEOVERS:
        _end(upload, claim, FileStatus.FAILED, _crashing(upload))
        return False
    deadline = time.monotonic() + settings.DATATALKS_FILE_SLICE_SECONDS
    type_spec = _type_spec(upload)
    try:
        if type_spec is None:
            raise FileUnreadable(f"The type {upload.type_name!r} no longer exists.")
        if not files_storage().exists(upload.storage_name):
            raise FileUnreadable("The stored file is gone (deleted after retention).")
        with files_storage().open(upload.storage_name, "rb") as stored:
            reader = Reader(
                fmt=upload.format,
                file=stored,
                size=upload.size,
                type_spec=type_spec,
                after=upload.position,
            )
            chunks = _chunks(reader, settings.DATATALKS_FILE_CHUNK_ROWS)
            for (rows, progress), last in _with_last(chunks):
                if not _chunk_commit(upload, claim, rows, progress):
                    return False  # another worker took the file over
                if not last and time.monotonic() > deadline:
                    return _release(upload, claim)
    except FileUnreadable as exc:
        _end(upload, claim, FileStatus.FAILED, str(exc))
        return False
    _end(upload, claim, FileStatus.DONE, "")
    return False


def _type_spec(upload: FileUpload) -> TypeSpec | None:
    return spec_for_customer(customer=upload.customer).types.get(upload.type_name)


def _claim(file_id) -> uuid.UUID | None:
    """Takes the file with one conditional UPDATE: free, or its worker gone quiet
    (then counted as a takeover; a stored chunk resets the count)."""
    now, claim = timezone.now(), uuid.uuid4()
    stale = now - dt.timedelta(seconds=settings.DATATALKS_FILE_STUCK_SECONDS)
    free = Q(claim__isnull=True) | Q(heartbeat_at__lt=stale)
    open_file = Q(status__in=[FileStatus.QUEUED, FileStatus.PROCESSING])
    taken = FileUpload.objects.filter(open_file, free, pk=file_id).update(
        claim=claim,
        status=FileStatus.PROCESSING,
        heartbeat_at=now,
        started_at=Coalesce(F("started_at"), now),
        takeovers=Case(
            When(claim__isnull=False, then=F("takeovers") + 1),
            default=F("takeovers"),
            output_field=FileUpload._meta.get_field("takeovers"),
        ),
    )
    return claim if taken else None


def _crashing(upload: FileUpload) -> str:
    stored = (
        f"rows up to {upload.position} are processed"
        if upload.position > 1
        else "no row is processed"
    )
    return (
        f"Processing stopped {upload.takeovers} times in a row after row "
        f"{upload.position} (the worker crashed, was killed or timed out) without "
        f"storing a chunk: {stored}, the rest are not. Upload the rest again, or ask "
        "support to look at the worker's log."
    )


def _chunks(reader: Reader, size: int) -> Iterator[tuple[list[Row], float]]:
    """Rows by chunk, each with how far through the file its last row is."""
    iterator = iter(reader)
    while chunk := list(islice(iterator, size)):
        yield chunk, reader.progress()


def _with_last(items: Iterable) -> Iterator[tuple[Any, bool]]:
    """Each item with whether it is the last (read one ahead)."""
    iterator = iter(items)
    current = next(iterator, _END)
    while current is not _END:
        following = next(iterator, _END)
        yield current, following is _END
        current = following


_END = object()


def _chunk_commit(upload: FileUpload, claim, rows: list[Row], progress: float) -> bool:
    """Stores one chunk's valid rows, records the others and the progress, in one
    transaction under the file's claim; False if the claim was lost."""
    type_spec = _type_spec(upload)
    readable = [row for row in rows if row.problem is None]
    rejected = [
        _rejected(upload, type_spec, row, [row.problem]) for row in rows if row.problem
    ]
    with transaction.atomic():
        if not _holds(upload, claim):
            return False
        results = chunk_ingest(
            caller=_caller(upload),
            category=upload.category,
            bodies=[_body(upload, type_spec, row) for row in readable],
        )
        failed = [
            _rejected(upload, type_spec, row, result.messages)
            for row, result in zip(readable, results, strict=True)
            if not result.success
        ]
        RejectedRow.objects.bulk_create(rejected + failed)
        FileUpload.objects.filter(pk=upload.pk).update(
            position=rows[-1].number,
            rows_accepted=F("rows_accepted") + len(readable) - len(failed),
            rows_rejected=F("rows_rejected") + len(rejected) + len(failed),
            progress=progress,
            heartbeat_at=timezone.now(),
            takeovers=0,
        )
        upload.position = rows[-1].number
    return True


def chunk_ingest(
    *, caller: ApiCaller, category: str, bodies: list[dict]
) -> list[ItemResult]:
    """The batch endpoint's validation and write path for one chunk of rows, inside the
    caller's transaction: one result per body, in order."""
    if not bodies:
        return []
    return datapoints_ingest_batch(
        caller=caller, category=category, body={"items": bodies}
    )


def _holds(upload: FileUpload, claim) -> bool:
    """Locks the file row; True if this task's claim and position still stand."""
    return (
        FileUpload.objects.select_for_update()
        .filter(pk=upload.pk, claim=claim, position=upload.position)
        .exists()
    )


def _caller(upload: FileUpload) -> ApiCaller:
    return ApiCaller(
        customer=upload.customer,
        environment=upload.environment,
        access_key_id=upload.access_key_id,
    )


def _body(upload: FileUpload, type_spec: TypeSpec | None, row: Row) -> dict:
    """The single-item body a row stands for: a JSON line's own body, with the
    upload's type and group key filling in what it leaves out."""
    defaults: dict[str, Any] = {"type": upload.type_name}
    if upload.group_key:
        defaults["groupKey"] = upload.group_key
    if row.body is not None:
        return {**defaults, **row.body}
    values = row.values or {}
    if upload.format == "xlsx" and type_spec is not None:
        values = _cells_as_json(values, type_spec)
    return {**defaults, "data": values}


def _cells_as_json(values: dict[str, Any], type_spec: TypeSpec) -> dict[str, Any]:
    """Workbook dates and times as text the field's format reads (JSON has no dates)."""
    by_source = {f.source: f for f in type_spec.fields}
    return {
        name: _date_text(value, by_source.get(name))
        if isinstance(value, (dt.date, dt.time, dt.timedelta))
        else value
        for name, value in values.items()
    }


def _date_text(value, field) -> str:
    if isinstance(value, dt.datetime):
        if field is not None and field.data_type == DataType.DATE:
            return value.date().isoformat()
        if field is not None and field.data_type == DataType.DATETIME:
            return value.strftime(datetime_pattern(field.fmt))
        return value.isoformat(sep=" ")
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _rejected(upload, type_spec, row: Row, messages: list[str]) -> RejectedRow:
    return RejectedRow(
        file=upload,
        row=row.number,
        hard_id=_hard_id_text(type_spec, row),
        messages=messages,
    )


def _hard_id_text(type_spec: TypeSpec | None, row: Row) -> str:
    """The row's Hard-ID as sent (``source=value``, comma-separated), where it has one."""
    values = (row.body or {}).get("data") if row.body is not None else row.values
    if type_spec is None or not isinstance(values, dict):
        return ""
    parts = [
        f"{f.source}={values[f.source]}"
        for f in type_spec.hard_id_fields
        if values.get(f.source) not in (None, "")
    ]
    return ", ".join(parts)[:500]


def _release(upload: FileUpload, claim) -> bool:
    FileUpload.objects.filter(pk=upload.pk, claim=claim).update(claim=None)
    return True


def _end(upload: FileUpload, claim, status: str, failure: str) -> None:
    now = timezone.now()
    FileUpload.objects.filter(pk=upload.pk, claim=claim).update(
        status=status,
        failure=failure,
        finished_at=now,
        heartbeat_at=now,
        claim=None,
        progress=1.0 if status == FileStatus.DONE else F("progress"),
    )
    logger.info("file %s %s", upload.pk, status)


def files_sweep() -> list[uuid.UUID]:
    """Files to queue again: never picked up (a lost publish) or whose worker went
    quiet (killed, or its next slice lost). A duplicate task finds the file claimed."""
    stale = timezone.now() - dt.timedelta(seconds=settings.DATATALKS_FILE_STUCK_SECONDS)
    return list(
        FileUpload.objects.filter(
            Q(status=FileStatus.QUEUED, created_at__lt=stale)
            | Q(status=FileStatus.PROCESSING, heartbeat_at__lt=stale)
        ).values_list("pk", flat=True)[:1000]
    )


def files_expire(*, now: dt.datetime | None = None) -> int:
    """Deletes stored files (and their rejected rows, which quote them) past
    DATATALKS_FILE_RETENTION_DAYS; the file's record and counts stay."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.DATATALKS_FILE_RETENTION_DAYS)
    expired = FileUpload.objects.filter(created_at__lt=cutoff, deleted_at__isnull=True)
    count = 0
    for upload in expired[:1000]:
        files_storage().delete(upload.storage_name)
        with transaction.atomic():
            RejectedRow.objects.filter(file=upload).delete()
            FileUpload.objects.filter(pk=upload.pk).exclude(
                status__in=[FileStatus.DONE, FileStatus.FAILED]
            ).update(
                status=FileStatus.FAILED,
                finished_at=now,
                claim=None,
                failure="The file was deleted at the end of its retention period "
                "before it was processed.",
            )
            FileUpload.objects.filter(pk=upload.pk).update(deleted_at=now)
        count += 1
    if count:
        logger.info("%d stored files deleted after their retention period", count)
    return count + _expire_unrecorded(cutoff)


def _expire_unrecorded(cutoff: dt.datetime) -> int:
    """Deletes stored days past retention: bodies that never became a file (a refused
    upload whose delete failed, a web process killed mid-upload)."""
    storage = files_storage()
    try:
        days, _ = storage.listdir(PREFIX)
    except FileNotFoundError:
        return 0
    removed = 0
    for day in days:
        if day >= f"{cutoff:%Y-%m-%d}":
            continue
        for name in storage.listdir(f"{PREFIX}/{day}")[1]:
            storage.delete(f"{PREFIX}/{day}/{name}")
            removed += 1
    return removed
