"""Which format a file is, and what its first bytes tell before it is processed.

No database, no HTTP: a format is told from the Content-Type and the first bytes; the
readers (readers.py) turn the file into rows. A file that cannot be read at all raises
``FileUnreadable``, whose message is shown to the customer as it is.
"""

import codecs
import csv
import io
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings

from datatalks.errors import PayloadInvalid, UnsupportedFormat
from mappings.sample_files import (
    BINARY_SIGNATURES,
    SampleError,
    header_names,
    sniff_delimiter,
)
from mappings.spec import TypeSpec

HEAD_BYTES = 64 * 1024
_XLSX_MAGIC = b"PK\x03\x04"

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# What each Content-Type declares; None: told from the bytes.
MEDIA_TYPES: dict[str, str | None] = {
    "text/csv": "csv",
    "application/csv": "csv",
    "text/tab-separated-values": "csv",
    "application/x-ndjson": "jsonl",
    "application/ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/x-jsonlines": "jsonl",
    "application/json": "jsonl",
    XLSX_MEDIA_TYPE: "xlsx",
    "application/octet-stream": None,
    "text/plain": None,
    "application/x-www-form-urlencoded": None,  # curl --data-binary's default
    "": None,
}
LABELS = {"csv": "CSV", "jsonl": "JSON lines", "xlsx": "an XLSX workbook"}


class FileUnreadable(Exception):
    """The file as a whole cannot be processed; the message says why, for the customer."""


@dataclass(frozen=True, slots=True)
class Row:
    """One row: its number as the customer sees it, and its fields or its problem.

    ``values`` is a row's ``data`` (CSV, XLSX, a JSON line of fields) and ``body`` a
    JSON line that is a whole single-item body; one of them, or ``problem``, is set.
    """

    number: int
    values: dict[str, Any] | None = None
    body: dict[str, Any] | None = None
    problem: str | None = None


def format_detect(*, content_type: str, head: bytes) -> str:
    """csv, jsonl or xlsx, from the declared Content-Type and the first bytes.

    Raises UnsupportedFormat (415) for a type that is none of them, a binary file
    that is not a workbook, or bytes that contradict the declared type.
    """
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type not in MEDIA_TYPES:
        raise UnsupportedFormat(
            f"Content-Type {media_type!r} is not a file format this endpoint reads: "
            f"send text/csv, application/x-ndjson (JSON lines) or {XLSX_MEDIA_TYPE} "
            "(or application/octet-stream to have it told from its bytes)."
        )
    declared, found = MEDIA_TYPES[media_type], _sniff(head)
    if declared and declared != found:
        raise UnsupportedFormat(
            f"The body was sent as {media_type} ({LABELS[declared]}) but it is "
            f"{LABELS[found]}: send it with its own Content-Type."
        )
    return found


def _sniff(head: bytes) -> str:
    if head.startswith(_XLSX_MAGIC):
        return "xlsx"
    for signature, label in BINARY_SIGNATURES:
        if head.startswith(signature):
            raise UnsupportedFormat(
                f"The file is {label}, not CSV, JSON lines or an XLSX workbook."
            )
    if b"\x00" in head:
        raise UnsupportedFormat(
            "The file holds binary data (NUL bytes), not CSV, JSON lines or XLSX."
        )
    text = head.lstrip(codecs.BOM_UTF8).lstrip()
    return "jsonl" if text.startswith((b"{", b"[")) else "csv"


def head_check(*, fmt: str, head: bytes, complete: bool) -> list[str] | None:
    """What the first bytes tell before processing: the CSV header's column names
    (None for other formats). Raises PayloadInvalid for what is wrong already."""
    if fmt == "xlsx":
        return None
    text = _decode_head(head, complete)
    if not text.strip():
        raise PayloadInvalid("The file is empty.")
    if fmt == "jsonl":
        _first_line_check(text, complete)
        return None
    try:
        columns = csv_layout(text, complete)[1]
    except FileUnreadable as exc:
        raise PayloadInvalid(str(exc)) from None
    if complete and len([line for line in text.splitlines() if line.strip()]) < 2:
        raise PayloadInvalid("The file has a header row but no rows under it.")
    return columns


def _decode_head(head: bytes, complete: bool) -> str:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise PayloadInvalid(
            "The file is UTF-16 text; save it as UTF-8 (Excel: CSV UTF-8) and send it "
            "again."
        )
    try:
        # A head cut inside a character is not an error: final only at the end.
        return codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=complete)
    except UnicodeDecodeError as exc:
        raise PayloadInvalid(
            f"The file is not UTF-8 text: byte {exc.start} (0x{head[exc.start]:02X}) "
            "cannot be decoded. Save it as UTF-8 (Excel: CSV UTF-8) and send it again."
        ) from None


def _first_line_check(text: str, complete: bool) -> None:
    first = text.lstrip().split("\n", 1)
    if len(first) == 1 and not complete:
        return  # a first line longer than the head: judged as a row
    try:
        value = json_value(first[0])
    except ValueError as exc:
        raise PayloadInvalid(f"Line 1 is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise PayloadInvalid("Line 1 is not a JSON object: each line must be one.")


def csv_layout(text: str, complete: bool) -> tuple[str, list[str]]:
    """The delimiter and the header's column names, from the start of a CSV file."""
    if "\n" not in text and "\r" not in text and not complete:
        raise FileUnreadable(
            f"The header row is longer than {HEAD_BYTES // 1024} KiB: is this CSV?"
        )
    delimiter = sniff_delimiter(text)
    cells = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), [])
    try:
        columns = header_names(cells)
    except SampleError as exc:
        raise FileUnreadable(str(exc)) from None
    if len(columns) > settings.DATATALKS_FILE_MAX_COLUMNS:
        raise FileUnreadable(
            f"The header names {len(columns)} columns; the limit is "
            f"{settings.DATATALKS_FILE_MAX_COLUMNS}."
        )
    return delimiter, columns


def hard_id_missing(type_spec: TypeSpec, columns: list[str]) -> str | None:
    """The refusal of a header without every Hard-ID column of the type, if so."""
    missing = [f.source for f in type_spec.hard_id_fields if f.source not in columns]
    if not missing:
        return None
    return (
        f"The header has no column {', '.join(missing)}: {type_spec.name}'s Hard-ID "
        f"is {', '.join(f.source for f in type_spec.hard_id_fields)}."
    )


def hard_id_check(type_spec: TypeSpec, columns: list[str]) -> None:
    """Raises FileUnreadable for a header without every Hard-ID column."""
    if problem := hard_id_missing(type_spec, columns):
        raise FileUnreadable(problem)


def json_value(line: str) -> Any:
    """One JSON value with exact decimals; ValueError with where it breaks."""
    try:
        return json.loads(line, parse_float=Decimal, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise ValueError("nested too deeply") from None


def _no_constant(name: str):
    raise ValueError(f"{name} is not allowed in JSON")
