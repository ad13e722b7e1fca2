"""Proposes one field mapping per column of a sample: a CDP name, the data type read
from the values, optional where blanks appear, and a suggested Hard-ID.

Pure: a Sample in (see sample_files), proposals out; no ORM and no HTTP. The admin's
import page shows the proposal for staff to edit; nothing is saved until they confirm.
"""

import dataclasses
import datetime as dt
import json
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .sample_files import (
    Sample,
    SampleError,
    max_upload_bytes,
    sample_read,
    sample_size_check,
)
from .types import DataType, Invalid, parse_datetime, parse_email

__all__ = [
    "ProposedField",
    "Sample",
    "SampleError",
    "fields_propose",
    "infer_type",
    "max_upload_bytes",
    "sample_read",
    "sample_size_check",
    "snake_case",
]

MAX_NAME_LENGTH = 100
EXAMPLES_SHOWN = 3


@dataclass(frozen=True)
class ProposedField:
    """One column's proposed field mapping, for staff to review."""

    source_field: str
    cdp_field: str
    data_type: str
    format: str
    optional: bool
    hard_id: bool
    secondary_id: bool
    examples: tuple[str, ...]
    note: str = ""


_BOOLEAN_PAIRS = [
    ("yes", "no"),
    ("ja", "nej"),
    ("true", "false"),
    ("sant", "falskt"),
    ("y", "n"),
    ("j", "n"),
]
# A single short letter could be anything (a size, a grade): both words must be seen.
_SHORT_BOOLEAN_WORDS = {"y", "n", "j"}
_INTEGER = re.compile(r"^[+-]?(0|[1-9]\d*)$", re.ASCII)
# Digits grouped by thousands with a space ("1 000,50") are common in Swedish files.
_DECIMAL = re.compile(
    r"^[+-]?(\d+|\d{1,3}([ \u00a0\u202f]\d{3})+)([.,]\d+)?$", re.ASCII
)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)
# Tried in order; the first that reads every value wins (day before month: the
# customers are European).
DATETIME_PATTERNS = [
    "YYYY-MM-DD HH:MM:SS",
    "YYYY-MM-DD HH:MM",
    "DD.MM.YYYY HH:MM:SS",
    "DD.MM.YYYY HH:MM",
    "DD/MM/YYYY HH:MM:SS",
    "DD/MM/YYYY HH:MM",
    "MM/DD/YYYY HH:MM:SS",
    "MM/DD/YYYY HH:MM",
    "YYYY/MM/DD HH:MM:SS",
    "YYYY/MM/DD HH:MM",
    "DD-MM-YYYY HH:MM:SS",
    "DD-MM-YYYY HH:MM",
    "DD.MM.YYYY",
    "DD/MM/YYYY",
    "MM/DD/YYYY",
    "YYYY/MM/DD",
    "DD-MM-YYYY",
]
_ID_WORDS = {
    "nr",
    "no",
    "number",
    "nummer",
    "key",
    "code",
    "sku",
    "ean",
    "uuid",
    "guid",
}
HARD_ID_TYPES = {DataType.INTEGER, DataType.STRING, DataType.EMAIL}


def fields_propose(
    sample: Sample, *, category: str = "profile", avoid_hard_id: frozenset = frozenset()
) -> list[ProposedField]:
    """One proposed field per column; ``avoid_hard_id`` names columns that refer to
    another type (an event's customer id), which make poor Hard-IDs."""
    names = _unique_names([snake_case(c) for c in sample.columns])
    proposals = []
    for column, cdp in zip(sample.columns, names, strict=True):
        values = [row[column] for row in sample.rows]
        present = [v for v in values if v is not None]
        data_type, fmt, note = infer_type(present)
        proposals.append(
            ProposedField(
                source_field=column,
                cdp_field=cdp,
                data_type=data_type,
                format=fmt,
                optional=len(present) < len(values),
                hard_id=False,
                secondary_id=category == "profile" and data_type == DataType.EMAIL,
                examples=_examples(present),
                note=note,
            )
        )
    hard_id = _suggest_hard_id(sample, proposals, avoid_hard_id)
    return [_as_hard_id(p) if p.source_field == hard_id else p for p in proposals]


def _as_hard_id(proposal: ProposedField) -> ProposedField:
    return dataclasses.replace(
        proposal, optional=False, hard_id=True, secondary_id=False
    )


def snake_case(name: str) -> str:
    """A CDP field name: ASCII snake_case (``Köpdatum`` → ``kopdatum``)."""
    text = name.translate(str.maketrans({"ø": "o", "Ø": "O", "æ": "ae", "ß": "ss"}))
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", text)
    text = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower() or "field"
    return ("f_" + text if text[0].isdigit() else text)[:MAX_NAME_LENGTH]


def _unique_names(names: list[str]) -> list[str]:
    seen: set[str] = set()
    unique = []
    for name in names:
        candidate, number = name, 2
        while candidate in seen:
            candidate, number = f"{name}_{number}", number + 1
        seen.add(candidate)
        unique.append(candidate)
    return unique


def _examples(values: list[Any]) -> tuple[str, ...]:
    shown = dict.fromkeys(_shown(v) for v in values[:200])
    return tuple(list(shown)[:EXAMPLES_SHOWN])


def _shown(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


def infer_type(values: list[Any]) -> tuple[str, str, str]:
    """(data type, format, note) of the narrowest type that reads every value."""
    if not values:
        return DataType.STRING, "", "No values in the sample: check the type."
    if all(isinstance(v, list) for v in values):
        return DataType.LIST, "", ""
    if any(isinstance(v, (list, dict)) for v in values):
        return DataType.STRING, "", "Holds nested objects, which the API refuses."
    for detect in (_boolean, _integer, _decimal, _date, _datetime, _email):
        found = detect(values)
        if found:
            return found
    return DataType.STRING, "", _string_note(values)


def _string_note(values: list[Any]) -> str:
    if all(isinstance(v, str) and v.isdigit() for v in values):
        return "Digits with leading zeros: kept as text so the zeros stay."
    return ""


def _boolean(values: list[Any]):
    if all(isinstance(v, bool) for v in values):
        return DataType.BOOLEAN, "", ""
    words = [v.strip() for v in values if isinstance(v, str)]
    if len(words) + sum(isinstance(v, bool) for v in values) != len(values):
        return None
    seen = {w.lower() for w in words}
    for true_word, false_word in _BOOLEAN_PAIRS:
        if not seen <= {true_word, false_word}:
            continue
        if seen & _SHORT_BOOLEAN_WORDS and len(seen) < 2:
            continue
        shown = [_as_seen(words, true_word), _as_seen(words, false_word)]
        return DataType.BOOLEAN, "/".join(shown), ""
    return None


def _as_seen(words: list[str], word: str) -> str:
    """The word as the file writes it most often, or capitalized when unseen."""
    spellings = [w for w in words if w.lower() == word]
    if not spellings:
        return word.capitalize()
    return max(set(spellings), key=spellings.count)


def _integer(values: list[Any]):
    for v in values:
        if isinstance(v, bool):
            return None
        if isinstance(v, float) and not v.is_integer():
            return None
        if not isinstance(v, (int, float)) and not (
            isinstance(v, str) and _INTEGER.match(v.strip())
        ):
            return None
    return DataType.INTEGER, "", ""


def _decimal(values: list[Any]):
    fraction = local = False
    for v in values:
        if isinstance(v, bool):
            return None
        if isinstance(v, (float, Decimal)):
            fraction = True
        elif isinstance(v, str) and _DECIMAL.match(v.strip()):
            fraction = fraction or bool(re.search(r"[.,]", v))
            local = local or bool(re.search(r"[,\s]", v))
        elif not isinstance(v, int):
            return None
    if not fraction:
        return None
    note = (
        'Written with a decimal comma or grouped digits ("1 000,50"); the API '
        'expects "1000.50".'
        if local
        else ""
    )
    return DataType.DECIMAL, "", note


def _date(values: list[Any]):
    for v in values:
        if isinstance(v, dt.datetime):
            if v.time() != dt.time(0, 0):
                return None
        elif isinstance(v, dt.date):
            continue
        elif not (isinstance(v, str) and _ISO_DATE.match(v.strip()) and _real(v)):
            return None
    return DataType.DATE, "", ""


def _real(text: str) -> bool:
    try:
        dt.date.fromisoformat(text.strip())
    except ValueError:
        return False
    return True


def _datetime(values: list[Any]):
    texts = [v.strip() for v in values if isinstance(v, str)]
    natives = [v for v in values if isinstance(v, dt.datetime)]
    if len(texts) + len(natives) != len(values):
        return None
    if not texts:
        note = "Excel datetimes; the API expects text such as 2021-03-18 11:35:24."
        return DataType.DATETIME, "YYYY-MM-DD HH:MM:SS", note
    fits = [p for p in DATETIME_PATTERNS if _reads_all(p, texts)]
    if not fits:
        return None
    pattern = fits[0]
    note = ""
    if any(p.startswith("MM/DD") for p in fits[1:]) and pattern.startswith("DD/MM"):
        note = f"Could also be {pattern.replace('DD/MM', 'MM/DD')}: check a value."
    if "HH" not in pattern:
        note = note or "Dates without a time; they are stored as midnight."
    return DataType.DATETIME, pattern, note


def _reads_all(pattern: str, texts: list[str]) -> bool:
    try:
        for text in texts:
            parse_datetime(text, pattern)
    except Invalid:
        return False
    return True


def _email(values: list[Any]):
    if not all(isinstance(v, str) and "@" in v for v in values):
        return None
    try:
        for v in values:
            parse_email(v, "")
    except Invalid:
        return None
    return DataType.EMAIL, "", ""


def _suggest_hard_id(
    sample: Sample, proposals: list[ProposedField], avoid: frozenset
) -> str | None:
    """A column with every value present and unique, id-like names first."""
    candidates = [
        (-_id_score(p.cdp_field), position, p.source_field)
        for position, p in enumerate(proposals)
        if p.data_type in HARD_ID_TYPES
        and p.source_field not in avoid
        and _all_present_and_unique(sample, p.source_field)
    ]
    return min(candidates)[2] if candidates else None


def _id_score(cdp: str) -> int:
    words = cdp.split("_")
    if words[-1] == "id":
        return 3
    if _ID_WORDS & set(words) or cdp.endswith(("nummer", "nr")):
        return 2
    return 1 if "email" in cdp or "mail" in words else 0


def _all_present_and_unique(sample: Sample, column: str) -> bool:
    values = [row[column] for row in sample.rows]
    if any(v is None for v in values):
        return False
    keys = [str(v).strip() for v in values]
    return len(set(keys)) == len(keys)
