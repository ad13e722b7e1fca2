"""Receiving a file: its bytes go to the files storage in chunks while they are hashed,
so a 200 MB upload never sits in memory and its signature can be checked afterwards."""

import hashlib
import logging
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.files import File
from django.core.files.storage import storages
from django.utils import timezone
from rest_framework.parsers import BaseParser

from datatalks.errors import PayloadInvalid, TooLarge

from .formats import HEAD_BYTES

logger = logging.getLogger(__name__)

STORAGE = "files"
PREFIX = "uploads"
_CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ReceivedFile:
    """A stored body: where it is, its size and SHA-256, and its first bytes."""

    name: str
    size: int
    sha256: str
    head: bytes
    content_type: str

    @property
    def complete_head(self) -> bool:
        return self.size <= len(self.head)


def files_storage():
    """The storage of uploaded files (settings.STORAGES["files"]: local or S3)."""
    return storages[STORAGE]


def file_receive(*, stream, content_type: str, length: int | None) -> ReceivedFile:
    """Streams ``stream`` into the files storage while hashing it.

    ``length`` is the announced size (Content-Length): a body that ends short of it is
    refused. More than DATATALKS_FILE_MAX_BYTES is refused (413) as soon as it is seen.
    """
    reader = _HashingReader(stream, settings.DATATALKS_FILE_MAX_BYTES)
    name = f"{PREFIX}/{timezone.now():%Y-%m-%d}/{uuid.uuid4()}"
    try:
        name = files_storage().save(name, File(reader, name=name))
    except TooLarge:
        _delete(name)
        raise
    received = ReceivedFile(
        name=name,
        size=reader.size,
        sha256=reader.sha256.hexdigest(),
        head=bytes(reader.head),
        content_type=content_type or "",
    )
    if length is not None and received.size != length:
        file_discard(received)
        raise PayloadInvalid(
            f"The body ended after {received.size} of its {length} bytes; send it again."
        )
    return received


def file_discard(received: ReceivedFile) -> None:
    """Deletes a received file that was refused (its signature, its contents)."""
    _delete(received.name)


def _delete(name: str) -> None:
    try:
        files_storage().delete(name)
    except Exception:  # the retention sweep deletes what is left by day
        logger.warning("stored file not deleted: %s", name, exc_info=True)


class _HashingReader:
    """A read-only, unseekable file over ``stream`` that hashes and counts what passes
    through it and keeps the first bytes (the format is told from them)."""

    closed = False

    def __init__(self, stream, limit: int):
        self.stream, self.limit = stream, limit
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.head = bytearray()

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size if size and size > 0 else _CHUNK)
        self.size += len(data)
        if self.size > self.limit:
            raise TooLarge(f"The file is larger than the limit of {self.limit} bytes.")
        self.sha256.update(data)
        if len(self.head) < HEAD_BYTES:
            self.head += data[: HEAD_BYTES - len(self.head)]
        return data

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        pass


class FileBodyParser(BaseParser):
    """A file upload's body, whatever its type: streamed to the files storage while it
    is hashed (never held in memory); ``request.data`` is the ReceivedFile."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        meta = parser_context["request"].META
        return file_receive(
            stream=stream,
            content_type=media_type or "",
            length=int(meta["CONTENT_LENGTH"]),
        )
