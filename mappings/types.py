"""One small parser per data type: ``parse(value, fmt)`` returns the stored value or
raises ``Invalid`` with a message that completes ``data.<field>: <value> ...``.

Stored values are JSON: integers and floats as numbers, decimals as their exact text,
dates as ``YYYY-MM-DD``, datetimes as naive ISO ``YYYY-MM-DDTHH:MM:SS``.
"""

import datetime as dt
import functools
import math
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import models
from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES

INT64 = 2**63


class DataType(models.TextChoices):
    STRING = "string", "String"
    INTEGER = "integer", "Integer"
    DECIMAL = "decimal", "Decimal"
    FLOAT = "float", "Float"
    BOOLEAN = "boolean", "Boolean"
    DATE = "date", "Date (YYYY-MM-DD)"
    DATETIME = "datetime", "Datetime"
    EMAIL = "email", "Email"
    PHONE = "phone", "Phone"
    LIST = "list", "List"


class Invalid(ValueError):
    """A value that its field's data type does not accept."""


DEFAULT_DATETIME_FORMAT = "YYYY-MM-DD HH:MM:SS"
DEFAULT_BOOLEAN_FORMAT = "true/false"
# re.ASCII: \d alone matches any script's digits ("١٢٣"), which int() reads as 123.
_TIME_ZONE_SUFFIX = re.compile(
    r"(?:Z|[+-]\d{2}(?::?\d{2})?)$", re.IGNORECASE | re.ASCII
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)
_INTEGER_TEXT = re.compile(r"^[+-]?\d+$", re.ASCII)
# The readable tokens of a datetime format, tried in this order at each position: "MM"
# after "HH:" (or "hh:") is minutes, anywhere else the month.
_READABLE_TOKENS = [
    ("HH:MM", [("HH", "%H"), (":", ":"), ("MM", "%M")]),
    ("hh:mm", [("hh", "%H"), (":", ":"), ("mm", "%M")]),
    ("YYYY", [("YYYY", "%Y")]),
    ("MM", [("MM", "%m")]),
    ("DD", [("DD", "%d")]),
    ("HH", [("HH", "%H")]),
    ("SS", [("SS", "%S")]),
    ("mm", [("mm", "%M")]),
    ("ss", [("ss", "%S")]),
]


def article(word: str) -> str:
    """'a' or 'an', for messages that name a data type or category."""
    return "an" if word[:1] in "aeiou" else "a"


def datetime_tokens(fmt: str) -> list[tuple[str, str]]:
    """The one reading of a datetime format: ``(as written, as strptime reads it)`` in
    order. A format with a ``%`` is strptime's own (``%d.%m.%Y``); any other is
    readable (``DD.MM.YYYY HH:MM``). A literal character reads as itself."""
    rest = fmt or DEFAULT_DATETIME_FORMAT
    tokens: list[tuple[str, str]] = []
    strptime = "%" in rest
    while rest:
        if strptime:
            found = [(rest[:2], rest[:2])] if rest.startswith("%") else []
        else:
            found = next((t for w, t in _READABLE_TOKENS if rest.startswith(w)), [])
        found = found or [(rest[0], rest[0])]
        tokens += found
        rest = rest[sum(len(written) for written, _ in found) :]
    return tokens


def datetime_pattern(fmt: str) -> str:
    """Turns a readable pattern (``YYYY-MM-DD HH:MM:SS``) into a strptime pattern."""
    return "".join(read for _, read in datetime_tokens(fmt))


def boolean_words(fmt: str) -> tuple[str, str]:
    true_word, _, false_word = (fmt or DEFAULT_BOOLEAN_FORMAT).partition("/")
    return true_word.strip().lower(), false_word.strip().lower()


def check_format(data_type: str, fmt: str) -> None:
    """Raises ValueError when ``fmt`` does not make sense for ``data_type``."""
    if data_type == DataType.DATETIME:
        _check_datetime_format(fmt)
    elif data_type == DataType.BOOLEAN:
        _check_boolean_format(fmt)
    elif fmt and data_type != DataType.DATE:
        raise ValueError(
            f"{article(data_type).capitalize()} {data_type} field takes no format."
        )
    elif fmt and fmt != "YYYY-MM-DD":
        raise ValueError("Dates are always YYYY-MM-DD; leave the format empty.")


def _check_datetime_format(fmt: str) -> None:
    pattern = datetime_pattern(fmt)
    sample = dt.datetime(2021, 3, 18, 11, 35, 24)
    try:
        parsed = dt.datetime.strptime(sample.strftime(pattern), pattern)
    except ValueError:
        parsed = None
    if parsed is None or parsed.date() != sample.date():
        raise ValueError(
            f"{fmt!r} is not a datetime pattern with a full date; "
            "use e.g. YYYY-MM-DD HH:MM:SS or YYYY-MM-DD HH:MM."
        )
    if "%z" in pattern or "%Z" in pattern:
        raise ValueError("Datetimes cannot carry a time zone.")


def _check_boolean_format(fmt: str) -> None:
    if not fmt:
        return
    true_word, false_word = boolean_words(fmt)
    if "/" not in fmt or not true_word or not false_word or true_word == false_word:
        raise ValueError(f"{fmt!r} is not two different words such as Yes/No.")


def _text(value: Any, label: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, Decimal, float)) and not isinstance(value, bool):
        return str(value)
    raise Invalid(f"is not a {label}")


def parse_string(value: Any, fmt: str) -> str:
    return _text(value, "string")


def parse_phone(value: Any, fmt: str) -> str:
    return _text(value, "phone number (a string)")


def parse_integer(value: Any, fmt: str) -> int:
    if isinstance(value, bool):
        raise Invalid("is not an integer")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _INTEGER_TEXT.match(value.strip()):
        if len(value.strip().lstrip("+-").lstrip("0")) > 19:  # past int64; before int()
            raise Invalid("is out of range for an integer (64-bit)")
        number = int(value)
    else:
        raise Invalid("is not an integer")
    if not -INT64 <= number < INT64:
        raise Invalid("is out of range for an integer (64-bit)")
    return number


def _decimal(value: Any, label: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, str)):
        raise Invalid(f"is not a {label}")
    # Decimal(), like int(), reads any script's digits; a number here is ASCII.
    if isinstance(value, str) and not value.isascii():
        raise Invalid(f"is not a {label}")
    try:
        number = Decimal(value.strip() if isinstance(value, str) else str(value))
    except InvalidOperation:
        raise Invalid(f"is not a {label}") from None
    if not number.is_finite():
        raise Invalid(f"is not a finite {label}")
    return number


def parse_decimal(value: Any, fmt: str) -> str:
    number = _decimal(value, "decimal number")
    if abs(number.adjusted()) > 100:
        raise Invalid("is out of range for a decimal number")
    return str(number)


def parse_float(value: Any, fmt: str) -> float:
    number = float(_decimal(value, "number"))
    if not math.isfinite(number):
        raise Invalid("is out of range for a float")
    return number


def parse_boolean(value: Any, fmt: str) -> bool:
    if isinstance(value, bool):
        return value
    true_word, false_word = boolean_words(fmt)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in (true_word, "true"):
            return True
        if word in (false_word, "false"):
            return False
    raise Invalid(f"is not a boolean (expected {true_word}/{false_word} or true/false)")


def parse_date(value: Any, fmt: str) -> str:
    if not isinstance(value, str) or not _DATE.match(value):
        raise Invalid("is not a date in the format YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise Invalid("is not a real calendar date") from None


def parse_datetime(value: Any, fmt: str) -> str:
    if not isinstance(value, str):
        raise Invalid("is not a datetime string")
    pattern = datetime_pattern(fmt)
    if not value.isascii():  # strptime reads any script's digits
        raise Invalid(
            f"is not a datetime in the format {fmt or DEFAULT_DATETIME_FORMAT}"
        )
    parsed = _strptime(value, pattern)
    if parsed is None:
        if _TIME_ZONE_SUFFIX.search(value) and _strptime(
            _TIME_ZONE_SUFFIX.sub("", value), pattern
        ):
            raise Invalid("has a time zone; time zones are not allowed")
        raise Invalid(
            f"is not a datetime in the format {fmt or DEFAULT_DATETIME_FORMAT}"
        )
    return parsed.isoformat()


def _strptime(value: str, pattern: str) -> dt.datetime | None:
    for candidate in (value, value.replace("T", " ", 1)):
        try:
            return dt.datetime.strptime(candidate, pattern)
        except ValueError:
            continue
    return None


# An address of plain ASCII: a dot-atom (RFC 5322) before the @, letters, digits, dots
# and hyphens after it. For one, email_validator's answer is the address with its
# domain normalized; the domain is most of its work (IDNA rules: 14 of 26 us an
# address) and the same for every address at it, so it is checked once per domain.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_ADDRESS = re.compile(rf"({_ATOM}(?:\.{_ATOM})*)@([A-Za-z0-9.-]+)")
_MAX_ADDRESS_LENGTH = 254  # RFC 5321, as email_validator counts it


def parse_email(value: Any, fmt: str) -> str:
    if not isinstance(value, str):
        raise Invalid("is not a valid email address")
    address = value.strip()
    try:
        return _plain_address(address) or _validated_address(address)
    except EmailNotValidError:
        raise Invalid("is not a valid email address") from None


def _plain_address(address: str) -> str | None:
    """A plain address as email_validator normalizes it; None for any other (a
    mailbox name it lowercases, a domain it turns into Unicode, an address too
    long), which it judges whole."""
    plain = _PLAIN_ADDRESS.fullmatch(address)
    if not plain or plain[1].lower() in CASE_INSENSITIVE_MAILBOX_NAMES:
        return None
    domain = _email_domain(plain[2])
    normalized = f"{plain[1]}@{domain}"
    if not domain.isascii() or max(len(address), len(normalized)) > _MAX_ADDRESS_LENGTH:
        return None
    return normalized


@functools.lru_cache(maxsize=4096)
def _email_domain(domain: str) -> str:
    """A domain as email_validator normalizes it; raises EmailNotValidError."""
    return _validated_address(f"a@{domain}").split("@", 1)[1]


def _validated_address(address: str) -> str:
    return validate_email(address, check_deliverability=False).normalized


def parse_list(value: Any, fmt: str) -> list:
    if not isinstance(value, list):
        raise Invalid("is not a list")
    items = []
    for item in value:
        if isinstance(item, (list, dict)):
            raise Invalid("is not a list of scalars (it holds a nested list or object)")
        is_fraction = isinstance(item, (Decimal, float))
        items.append(parse_float(item, "") if is_fraction else item)
    return items


PARSERS: dict[str, Callable[[Any, str], Any]] = {
    DataType.STRING: parse_string,
    DataType.INTEGER: parse_integer,
    DataType.DECIMAL: parse_decimal,
    DataType.FLOAT: parse_float,
    DataType.BOOLEAN: parse_boolean,
    DataType.DATE: parse_date,
    DataType.DATETIME: parse_datetime,
    DataType.EMAIL: parse_email,
    DataType.PHONE: parse_phone,
    DataType.LIST: parse_list,
}

# The reference: "If the data type is not a string an empty string will fail the API call".
EMPTY_STRING_ALLOWED = frozenset({DataType.STRING, DataType.PHONE})
