"""The rows of a stored file, read as a stream: CSV and JSON lines line by line (no
line longer than a request body), XLSX through openpyxl's read-only reader once the
archive passed the guards against ZIP bombs and absurd dimensions.

A row that cannot be read is a Row with a problem (its neighbours go on); a file that
cannot be read at all raises FileUnreadable.
"""

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.conf import settings

from ingestion.parsers import unstorable
from mappings.sample_files import SampleError, header_names
from mappings.spec import TypeSpec

from .formats import (
    HEAD_BYTES,
    FileUnreadable,
    Row,
    csv_layout,
    hard_id_check,
    json_value,
)

XLSX_MAX_ROWS = 1_048_576  # Excel's own limit
_READ_BUFFER = 256 * 1024
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_NOT_UTF8 = re.compile("[\udc80-\udcff]")  # bytes that surrogateescape kept


class Reader:
    """The rows of one stored file, from row ``after + 1`` on; ``progress()`` is how
    far through the file reading has got (0 to 1, estimated)."""

    def __init__(
        self, *, fmt: str, file, size: int, type_spec: TypeSpec, after: int = 0
    ):
        self.fmt, self.file, self.size, self.after = fmt, file, size, after
        self.type_spec = type_spec
        self._rows_total: int | None = None
        self._last_row = 0
        self._lines: _Lines | None = None

    def __iter__(self) -> Iterator[Row]:
        rows = {"csv": self._csv, "jsonl": self._jsonl, "xlsx": self._xlsx}[self.fmt]
        for row in rows():
            self._last_row = row.number
            if row.number > self.after:
                yield row

    def progress(self) -> float:
        if self._lines is not None and self.size:
            return min(1.0, self._lines.consumed / self.size)
        if self._rows_total:
            return min(1.0, self._last_row / self._rows_total)
        return 0.0

    def _text_lines(self) -> "_Lines":
        buffered = io.BufferedReader(_Raw(self.file), _READ_BUFFER)
        # Bytes that are not UTF-8 become lone surrogates: that row is refused, not
        # the file (the head was checked at upload).
        text = io.TextIOWrapper(
            buffered, encoding="utf-8-sig", errors="surrogateescape", newline=""
        )
        self._lines = _Lines(text, settings.DATATALKS_MAX_BODY_BYTES)
        return self._lines

    def _csv(self) -> Iterator[Row]:
        head = self.file.read(HEAD_BYTES)
        self.file.seek(0)
        text_head = head.decode("utf-8-sig", errors="surrogateescape")
        delimiter, columns = csv_layout(text_head, len(head) < HEAD_BYTES)
        hard_id_check(self.type_spec, columns)
        reader = csv.reader(self._text_lines(), delimiter=delimiter)
        number = 0
        while True:
            number += 1
            try:
                record = next(reader)
            except StopIteration:
                return
            except (csv.Error, _LineTooLong) as exc:
                if number > 1:
                    yield Row(number, problem=_csv_problem(exc))
                continue
            if number > 1 and any(cell.strip() for cell in record):
                yield _csv_row(number, columns, record)

    def _jsonl(self) -> Iterator[Row]:
        lines = self._text_lines()
        number = 0
        while True:
            number += 1
            try:
                line = next(lines)
            except StopIteration:
                return
            except _LineTooLong as exc:
                yield Row(number, problem=str(exc))
                continue
            if line.strip():
                yield _json_row(number, line)

    def _xlsx(self) -> Iterator[Row]:
        workbook = xlsx_open(self.file, self.size)
        try:
            sheet = workbook.worksheets[0]
            self._rows_total = sheet.max_row
            # Declared dimensions are not trusted: no padding to a claimed XFD1048576.
            sheet.reset_dimensions()
            yield from _xlsx_rows(sheet.iter_rows(values_only=True), self.type_spec)
        finally:
            workbook.close()


class _Raw(io.RawIOBase):
    """A storage file as a raw stream, whatever the storage's file object is."""

    def __init__(self, file):
        self.file = file

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.file.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _LineTooLong(Exception):
    pass


class _Lines:
    """The lines of a text stream, none longer than ``limit`` characters: a longer one
    is skipped and raises _LineTooLong once, then reading goes on after it."""

    def __init__(self, text: io.TextIOWrapper, limit: int):
        self.text, self.limit = text, limit
        self.consumed = 0  # characters: the progress estimate

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = self.text.readline(self.limit)
        if not line:
            raise StopIteration
        self.consumed += len(line)
        if len(line) < self.limit or line.endswith(("\n", "\r")):
            return line
        while (rest := self.text.readline(self.limit)) and not rest.endswith(
            ("\n", "\r")
        ):
            self.consumed += len(rest)
        self.consumed += len(rest)
        raise _LineTooLong(
            f"is longer than {self.limit:,} characters (the limit of one request "
            "body); nothing of it was read"
        )


def _csv_problem(exc: Exception) -> str:
    if isinstance(exc, _LineTooLong):
        return f"The row {exc}"
    return f"The row is not valid CSV: {exc}"


def _csv_row(number: int, columns: list[str], record: list[str]) -> Row:
    extra = [cell for cell in record[len(columns) :] if cell.strip()]
    if extra:
        return Row(
            number,
            problem=f"The row has {len(record)} cells but the header names "
            f"{len(columns)} columns",
        )
    for cell in record:
        if problem := _unstorable_text(cell):
            return Row(number, problem=problem)
    # A CSV cell is text: the mapping's parsers decide what it becomes. An empty or
    # missing cell is null.
    cells = record + [""] * (len(columns) - len(record))
    return Row(
        number,
        values={
            name: cell if cell.strip() else None
            for name, cell in zip(columns, cells, strict=False)
        },
    )


def _unstorable_text(text: str) -> str | None:
    if not _UNSTORABLE.search(text):
        return None
    if _NOT_UTF8.search(text):
        return "The row is not valid UTF-8 text; save the file as UTF-8"
    return "The row contains U+0000 or a lone surrogate, which cannot be stored"


def _json_row(number: int, line: str) -> Row:
    if problem := _unstorable_text(line):
        return Row(number, problem=problem)
    try:
        value = json_value(line)
    except ValueError as exc:
        return Row(number, problem=f"The line is not valid JSON: {exc}")
    if not isinstance(value, dict):
        return Row(number, problem="The line is not a JSON object")
    if where := unstorable(value):
        return Row(number, problem=f"{where}: contains U+0000 or a lone surrogate")
    if isinstance(value.get("data"), dict):
        return Row(number, body=value)
    return Row(number, values=value)


def xlsx_open(file, size: int):
    """The workbook, read-only, once its archive passed the guards; raises
    FileUnreadable for a broken workbook or a ZIP bomb."""
    # openpyxl is imported here: only workers reading a workbook need it.
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    _zip_check(file, size)
    file.seek(0)
    try:
        return load_workbook(file, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError):
        raise FileUnreadable("The file is not a readable XLSX workbook.") from None


def _zip_check(file, size: int) -> None:
    try:
        members = zipfile.ZipFile(file).infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise FileUnreadable("The file is not a readable XLSX workbook.") from None
    unpacked = sum(m.file_size for m in members)
    limit = settings.DATATALKS_FILE_XLSX_MAX_UNPACKED_BYTES
    ratio = settings.DATATALKS_FILE_XLSX_MAX_RATIO
    if unpacked > limit:
        raise FileUnreadable(
            f"The workbook unpacks to {unpacked:,} bytes; the limit is {limit:,}."
        )
    if unpacked > HEAD_BYTES * 16 and unpacked > ratio * max(size, 1):
        raise FileUnreadable(
            f"The workbook unpacks to {unpacked:,} bytes from {size:,}, more than "
            f"{ratio} times its size: refused as a ZIP bomb."
        )


def _xlsx_rows(cells, type_spec: TypeSpec) -> Iterator[Row]:
    columns: list[str] | None = None
    for number, record in enumerate(cells, start=1):
        if number > XLSX_MAX_ROWS:
            raise FileUnreadable(
                f"The sheet has rows past row {XLSX_MAX_ROWS:,}, Excel's last row."
            )
        if all(_blank(v) for v in record):
            continue
        if columns is None:
            columns = _xlsx_header(record)
            hard_id_check(type_spec, columns)
            continue
        if any(not _blank(v) for v in record[len(columns) :]):
            yield Row(
                number,
                problem=f"The row has values beyond the {len(columns)} named columns",
            )
            continue
        cells = list(record) + [None] * (len(columns) - len(record))
        yield Row(
            number,
            values={
                c: None if _blank(v) else _xlsx_value(v)
                for c, v in zip(columns, cells, strict=False)
            },
        )
    if columns is None:
        raise FileUnreadable("The first sheet of the workbook is empty.")


def _xlsx_header(record) -> list[str]:
    try:
        columns = header_names(list(record))
    except SampleError as exc:
        raise FileUnreadable(f"The header row: {exc}") from None
    if len(columns) > settings.DATATALKS_FILE_MAX_COLUMNS:
        raise FileUnreadable(
            f"The header names {len(columns)} columns; the limit is "
            f"{settings.DATATALKS_FILE_MAX_COLUMNS}."
        )
    return columns


def _xlsx_value(value: Any) -> Any:
    # A fraction is exact, as in JSON (Decimal); dates stay dates for the mapping.
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())
