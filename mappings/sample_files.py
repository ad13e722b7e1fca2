"""Reads a sample file (CSV, XLSX or JSON lines) into columns and rows.

Pure: bytes in, a Sample out. Every refusal is a ``SampleError`` whose message is shown
to staff as it is: wrong encoding, empty, too large, a binary file with a text name.
"""

import codecs
import csv
import io
import json
import re
import zipfile
import zlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings

# A sample shows the shape of the data; the whole export is not needed to infer it.
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 10_000
# Rows of a workbook looked at, blank ones included: a sheet can claim a million rows.
MAX_SCANNED_ROWS = 2 * MAX_ROWS
MAX_COLUMNS = 1_000
# What an XLSX may unpack to. openpyxl loads the shared strings whole before the first
# row (a 400 KB file can hold 200 MB of them); only the sheet itself is streamed.
MAX_UNPACKED_BYTES = 256 * 1024 * 1024
MAX_SHARED_STRINGS_BYTES = 16 * 1024 * 1024
MAX_NAME_LENGTH = 100
EXTENSIONS = {
    ".csv": "csv",
    ".txt": "csv",
    ".xlsx": "xlsx",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
BINARY_SIGNATURES = [
    (b"PK\x03\x04", "a ZIP archive (an XLSX workbook?)"),
    (b"\xd0\xcf\x11\xe0", "an old Excel (.xls) or Office file"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
]
_DELIMITERS = [",", ";", "\t", "|"]
# PostgreSQL cannot store U+0000, and a lone surrogate cannot be encoded as UTF-8 (the
# page could not be sent): JSON can hold both as \u escapes.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class SampleError(ValueError):
    """A file that cannot be used as a sample; the message says why, for staff."""


@dataclass(frozen=True)
class Sample:
    """The columns and rows read from a file; blank cells and missing keys are None."""

    kind: str
    columns: list[str]
    rows: list[dict[str, Any]]
    truncated: bool = False


def max_upload_bytes() -> int:
    """The largest sample accepted: settings.DATATALKS_IMPORT_MAX_BYTES, or 10 MiB."""
    return getattr(settings, "DATATALKS_IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES)


def sample_size_check(*, size: int, limit: int) -> None:
    """Refuses a file over the limit before it is read."""
    if size > limit:
        raise SampleError(
            f"The file is {_megabytes(size)}; samples are limited to "
            f"{_megabytes(limit)}. A few thousand rows are plenty: upload the first "
            "rows of the export."
        )


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def sample_read(*, name: str, data: bytes) -> Sample:
    """Reads a CSV, XLSX or JSON-lines file by its extension; raises SampleError."""
    extension = ("." + name.rsplit(".", 1)[-1].lower()) if "." in name else ""
    kind = EXTENSIONS.get(extension)
    if kind is None:
        raise SampleError(
            f"{name!r} is not a CSV (.csv), Excel (.xlsx) or JSON lines (.jsonl) file."
        )
    if not data.strip():
        raise SampleError("The file is empty.")
    reader = {"csv": _read_csv, "xlsx": _read_xlsx, "jsonl": _read_json_lines}[kind]
    sample = reader(data)
    if not sample.rows:
        raise SampleError("The file has a header but no rows of data under it.")
    return sample


def _refuse_binary(data: bytes, what: str) -> None:
    for signature, label in BINARY_SIGNATURES:
        if data.startswith(signature):
            raise SampleError(
                f"The file is {label}, not {what} text. Upload it with its real "
                "extension, or export it as CSV UTF-8."
            )
    if _is_utf16(data):
        return  # UTF-16 text is half NUL bytes; _decode reads it
    if b"\x00" in data[:65536]:
        raise SampleError(
            f"The file holds binary data (NUL bytes), not {what} text. Export it as "
            "CSV UTF-8 and upload that."
        )


def _is_utf16(data: bytes) -> bool:
    return data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))


def _decode(data: bytes) -> str:
    if _is_utf16(data):
        return _decode_utf16(data)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        hint = ""
        if re.search(rb"[\xe5\xe4\xf6\xc5\xc4\xd6]", data):
            hint = (
                " It looks like Windows-1252 (Latin-1), as older Excel versions save."
            )
        raise SampleError(
            f"The file is not UTF-8 text: byte {exc.start} (0x{data[exc.start]:02X}) "
            f'cannot be decoded.{hint} Save it as "CSV UTF-8" and upload it again.'
        ) from None


def _decode_utf16(data: bytes) -> str:
    try:
        text = data.decode("utf-16")
    except UnicodeDecodeError as exc:
        raise SampleError(
            f"The file starts as UTF-16 text but byte {exc.start} cannot be decoded "
            '(a lone surrogate or an odd length). Save it as "CSV UTF-8".'
        ) from None
    if "\x00" in text:
        raise SampleError("The file holds the character U+0000, which is not text.")
    return text


def _read_csv(data: bytes) -> Sample:
    _refuse_binary(data, "CSV")
    text = _decode(data)
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        columns = header_names(next(reader, []))
        rows, truncated = _csv_rows(reader, columns)
    except csv.Error as exc:
        raise SampleError(f"Line {reader.line_num} is not valid CSV: {exc}.") from None
    label = {"\t": "tab"}.get(delimiter, delimiter)
    return Sample(f"CSV ({label} delimited)", columns, rows, truncated)


def _csv_rows(reader, columns: list[str]) -> tuple[list[dict], bool]:
    rows = []
    for record in reader:
        if not any(cell.strip() for cell in record):
            continue
        extra = record[len(columns) :]
        if any(cell.strip() for cell in extra):
            raise SampleError(
                f"Line {reader.line_num} has {len(record)} values, but the header "
                f"names {len(columns)} columns."
            )
        if len(rows) == MAX_ROWS:
            return rows, True
        rows.append(
            {c: _blank_to_none(v) for c, v in zip(columns, record, strict=False)}
        )
    return rows, False


def _blank_to_none(value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return value


def sniff_delimiter(text: str) -> str:
    """The delimiter that splits the header widest and every early line alike."""
    lines = [line for line in text[:65536].splitlines() if line.strip()][:21]
    if len(text) > 65536:
        lines = lines[:-1]  # the last line may be cut off
    best, best_score = ",", (False, 1)
    for delimiter in _DELIMITERS:
        widths = [len(r) for r in csv.reader(lines, delimiter=delimiter)]
        if not widths:
            continue
        score = (all(w == widths[0] for w in widths), widths[0])
        if widths[0] > 1 and score > best_score:
            best, best_score = delimiter, score
    return best


def header_names(cells: list[Any]) -> list[str]:
    """The column names of a header row; raises SampleError for a blank or repeated
    name (trailing blank cells are dropped)."""
    names = [("" if c is None else str(c)).strip() for c in cells]
    while names and not names[-1]:
        names.pop()
    if not names:
        raise SampleError("The first row is empty: it must name the columns.")
    seen: dict[str, int] = {}
    for number, name in enumerate(names, start=1):
        if not name:
            raise SampleError(f"Column {number} has no name in the header row.")
        if len(name) > MAX_NAME_LENGTH:
            raise SampleError(
                f"Column {number}'s name is longer than {MAX_NAME_LENGTH} characters."
            )
        if name in seen:
            raise SampleError(
                f"The column name {name!r} appears twice (columns {seen[name]} and "
                f"{number}); each column needs its own name."
            )
        seen[name] = number
    return names


def _read_xlsx(data: bytes) -> Sample:
    # openpyxl is imported here: only the import page needs it.
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    if not data.startswith(b"PK\x03\x04"):
        _refuse_binary(data, "XLSX")
        raise SampleError("The file is not an XLSX workbook (it is not a ZIP archive).")
    try:
        _check_unpacked_sizes(data)
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            rows = workbook.worksheets[0].iter_rows(
                max_row=MAX_SCANNED_ROWS, max_col=MAX_COLUMNS + 1, values_only=True
            )
            return _xlsx_sample(rows)
        finally:
            workbook.close()
    except SampleError:
        raise
    # A broken archive, a missing part or XML that is not well-formed (ParseError is
    # a SyntaxError), found when opened or while the sheet is read.
    except (
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        InvalidFileException,
        KeyError,
        IndexError,
        OSError,
        ValueError,
        TypeError,
        SyntaxError,
    ):
        raise SampleError("The file is not a readable XLSX workbook.") from None


def _check_unpacked_sizes(data: bytes) -> None:
    """Refuses a workbook that unpacks to more than the limits, before openpyxl reads
    it. The sizes are those the archive declares: zipfile reads no further."""
    from openpyxl.packaging.manifest import Manifest
    from openpyxl.xml.constants import ARC_CONTENT_TYPES, SHARED_STRINGS
    from openpyxl.xml.functions import fromstring

    archive = zipfile.ZipFile(io.BytesIO(data))
    sizes = {info.filename: info.file_size for info in archive.infolist()}
    if (
        sum(sizes.values()) > MAX_UNPACKED_BYTES
        or sizes.get(ARC_CONTENT_TYPES, 0) > 1024 * 1024
    ):
        raise SampleError(_UNPACKS_TOO_LARGE)
    # openpyxl finds the shared strings as the manifest names them; so does this.
    manifest = Manifest.from_tree(fromstring(archive.read(ARC_CONTENT_TYPES)))
    for part in manifest.findall(SHARED_STRINGS):
        if sizes.get(part.PartName[1:], 0) > MAX_SHARED_STRINGS_BYTES:
            raise SampleError(_UNPACKS_TOO_LARGE)


_UNPACKS_TOO_LARGE = (
    "The workbook unpacks to more text than a sample needs (shared strings over "
    f"{MAX_SHARED_STRINGS_BYTES // (1024 * 1024)} MB or "
    f"{MAX_UNPACKED_BYTES // (1024 * 1024)} MB in all). Save the first rows of the "
    "export as a new workbook, or as CSV UTF-8, and upload that."
)


def _xlsx_sample(cells) -> Sample:
    header = next((row for row in cells if any(v is not None for v in row)), None)
    if header is None:
        raise SampleError(
            "The first sheet of the workbook is empty (in its first "
            f"{MAX_SCANNED_ROWS:,} rows)."
        )
    columns = header_names(list(header))
    if len(columns) > MAX_COLUMNS:
        raise SampleError(f"The header names more than {MAX_COLUMNS} columns.")
    rows, truncated = [], False
    for record in cells:
        if all(_blank_to_none(v) is None for v in record):
            continue
        if any(_blank_to_none(v) is not None for v in record[len(columns) :]):
            raise SampleError(
                "A row has values beyond the named columns; give every column a "
                "name in the header row."
            )
        if len(rows) == MAX_ROWS:
            truncated = True
            break
        rows.append(
            {c: _blank_to_none(v) for c, v in zip(columns, record, strict=False)}
        )
    return Sample("Excel workbook (first sheet)", columns, rows, truncated)


def _read_json_lines(data: bytes) -> Sample:
    _refuse_binary(data, "JSON")
    text = _decode(data)
    if text.lstrip().startswith("["):
        objects = _json_array(text)
    else:
        objects = [
            _json_line(line, number)
            for number, line in enumerate(text.splitlines(), start=1)
            if line.strip()
        ]
    truncated = len(objects) > MAX_ROWS
    objects = [_unwrap(obj) for obj in objects[:MAX_ROWS]]
    columns = list(dict.fromkeys(key for obj in objects for key in obj))
    if not columns:
        raise SampleError("The objects in the file have no fields.")
    header_names(columns)
    rows = [{c: _blank_to_none(obj.get(c)) for c in columns} for obj in objects]
    return Sample("JSON lines", columns, rows, truncated)


def _json_line(line: str, number: int) -> dict:
    try:
        value = json.loads(line, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise SampleError(
            f"Line {number} is not valid JSON: {exc.msg} at column {exc.colno}."
        ) from None
    except RecursionError:
        raise SampleError(f"Line {number} is nested too deeply to read.") from None
    if _unstorable(value):
        raise SampleError(f"Line {number} {_UNSTORABLE_TEXT}")
    if not isinstance(value, dict):
        raise SampleError(f"Line {number} is not a JSON object.")
    return value


def _json_array(text: str) -> list[dict]:
    try:
        value = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise SampleError(
            f"The file is not valid JSON: {exc.msg} at line {exc.lineno} column "
            f"{exc.colno}."
        ) from None
    except RecursionError:
        raise SampleError("The file is nested too deeply to read.") from None
    if _unstorable(value):
        raise SampleError(f"The file {_UNSTORABLE_TEXT}")
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise SampleError("The JSON array must hold objects, one per row.")
    return value


_UNSTORABLE_TEXT = (
    "holds the character U+0000 or a lone surrogate (\\ud800 to \\udfff), which "
    "are not text."
)


def _unstorable(value) -> bool:
    """Whether any key or string in ``value`` holds U+0000 or a lone surrogate."""
    pending = [value]
    while pending:
        node = pending.pop()
        if isinstance(node, str):
            if _UNSTORABLE.search(node):
                return True
        elif isinstance(node, dict):
            pending.extend(node.keys())
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return False


def _unwrap(obj: dict) -> dict:
    """An API request body (type, groupKey, data) stands for its data."""
    if isinstance(obj.get("data"), dict) and "type" in obj:
        return obj["data"]
    return obj
