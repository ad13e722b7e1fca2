"""Reads of file uploads, always within the caller's customer and environment."""

import uuid
from collections.abc import Iterator

from datatalks.errors import NotFound
from ingestion.caller import ApiCaller
from ingestion.models import FileUpload, RejectedRow


def file_for_caller(*, caller: ApiCaller, file_id: str) -> FileUpload:
    """The caller's file; another customer's id is answered like an unknown one."""
    try:
        key = uuid.UUID(str(file_id))
    except ValueError:
        key = None
    upload = (
        FileUpload.objects.filter(
            pk=key, customer_id=caller.customer.pk, environment=caller.environment
        ).first()
        if key
        else None
    )
    if upload is None:
        raise NotFound(f"fileId: {file_id} is not a file of yours.")
    return upload


def rejected_rows(*, upload: FileUpload) -> Iterator[RejectedRow]:
    """Every rejected row of the file in row order, read in batches (flat memory)."""
    return (
        RejectedRow.objects.filter(file=upload)
        .order_by("row")
        .only("row", "hard_id", "messages")
        .iterator(chunk_size=2000)
    )
