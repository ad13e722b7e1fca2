"""Pure builders of what is sent to Salesmanago: one item per data point.

An item is built from the data point's stored values (by CDP field name), the linked
profile's values for events, and the mapping's entries. Nothing here does I/O.
"""

import datetime as dt
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

_TEMPLATE_FIELDS = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)\}")
_NAME_PLACEHOLDERS = re.compile(r"\{(?:field|Field)\}")
KINDS = {"string", "list", "dynamic", "constant"}
CONVERSIONS = {"", "text", "number", "birthday", "epoch_ms"}
# The CDP data types a number conversion accepts (mappings.types.DataType values).
NUMERIC_TYPES = frozenset({"integer", "decimal", "float"})
# Bounds at send time, whatever was saved: a number is plain ASCII decimal text of at
# most 40 characters whose exponent stays within +-30 (int(Decimal("1e2000000")) would
# take minutes of CPU); a template's output is at most 2,000 characters.
_NUMBER_TEXT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d{1,3})?", re.ASCII)
MAX_NUMBER_CHARS = 40
MAX_NUMBER_EXPONENT = 30
MAX_TEMPLATE_CHARS = 2000


class PayloadError(ValueError):
    """The data point cannot become a Salesmanago item (e.g. no contact email)."""


@dataclass(frozen=True, slots=True)
class Entry:
    kind: str
    source: str
    target: str
    conversion: str = ""
    name_template: str = ""


# Every field an item of each category can carry in Salesmanago: the targets a mapping
# entry chooses from (the admin offers these, check_entry refuses others). "properties"
# takes a dynamic entry (each listed field becomes a property named by its template).
CONTACT_TARGETS = (
    "contact.email",
    "contact.name",
    "contact.phone",
    "contact.fax",
    "contact.company",
    "contact.externalId",
    "contact.state",
    "contact.address.streetAddress",
    "contact.address.zipCode",
    "contact.address.city",
    "contact.address.country",
    "province",
    "birthday",
    "lang",
    "tags",
    "removeTags",
    "properties",
)
EVENT_TARGETS = (
    "email",
    "contactEvent.contactExtEventType",
    "contactEvent.date",
    "contactEvent.value",
    "contactEvent.externalId",
    "contactEvent.description",
    "contactEvent.products",
    "contactEvent.location",
    "contactEvent.shopDomain",
    *(f"contactEvent.detail{n}" for n in range(1, 21)),
)
PRODUCT_TARGETS = (
    "productId",
    "name",
    "mainCategory",
    "categories",
    "categoryExternalId",
    "description",
    "price",
    "discountPrice",
    "unitPrice",
    "quantity",
    "available",
    "active",
    "productUrl",
    "mainImageUrl",
    "imageUrls",
    "systemDetails.brand",
    "systemDetails.manufacturer",
    "systemDetails.season",
    "systemDetails.color",
    "systemDetails.popularity",
    "systemDetails.gender",
    "systemDetails.bestseller",
    "systemDetails.newProduct",
    *(f"customDetails.detail{n}" for n in range(1, 6)),
)
TARGETS = {
    "profile": CONTACT_TARGETS,
    "event": EVENT_TARGETS,
    "inventory": PRODUCT_TARGETS,
}
# How each group of targets is labelled where staff choose one.
TARGET_GROUPS = {
    "contact.": "Contact fields",
    "properties": "Properties",
    "tags": "Tags",
    "removeTags": "Tags",
    "contactEvent.detail": "Event details",
    "contactEvent.": "Event fields",
    "email": "The event's contact",
    "customDetails.": "Product custom details",
    "systemDetails.": "Product details",
}


def target_choices(category: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """The category's targets, grouped for a select: [(group, [(target, target)])]."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for target in TARGETS[category]:
        group = next(
            (
                label
                for prefix, label in TARGET_GROUPS.items()
                if target.startswith(prefix)
            ),
            "Contact (top level)" if category == "profile" else "Product fields",
        )
        groups.setdefault(group, []).append((target, target))
    return list(groups.items())


def check_entry(
    kind: str,
    source: str,
    target: str,
    conversion: str,
    name_template: str = "",
    *,
    field_types: dict[str, str] | None = None,
    category: str | None = None,
) -> None:
    """Raises ValueError when an entry cannot work, whatever the data.

    ``field_types`` maps the CDP fields the entry may read (``profile.<field>`` for an
    event's linked profile) to their data types; given, a number conversion must read a
    numeric field. With ``category``, the target must be one of that category's TARGETS.
    """
    if category is not None and target not in TARGETS[category]:
        raise ValueError(
            f"{target!r} is not a field of a Salesmanago "
            f"{_ITEM_NAME[category]}; choose one of the listed targets."
        )
    if kind not in KINDS:
        raise ValueError(f"Unknown kind {kind!r}.")
    if conversion not in CONVERSIONS:
        raise ValueError(f"Unknown conversion {conversion!r}.")
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)*", target):
        raise ValueError(f"{target!r} is not a dotted Salesmanago field path.")
    if kind == "dynamic" and target != "properties":
        check_template(source)
    check_name_template(name_template)
    if conversion == "number":
        _check_number_source(kind, source, field_types)


def check_template(source: str) -> None:
    """A value template holds text and ``{field}`` placeholders, nothing else."""
    _check_braces(
        source,
        _TEMPLATE_FIELDS,
        "a template takes only {field} placeholders (a field name in braces, no "
        "format, index or attribute).",
    )
    if not _TEMPLATE_FIELDS.search(source):
        raise ValueError(
            "A dynamic entry needs a template such as {first_name} {last_name}."
        )


def check_name_template(template: str) -> None:
    """A property name template holds text, ``{field}`` and ``{Field}``, nothing else."""
    _check_braces(
        template,
        _NAME_PLACEHOLDERS,
        "a name template takes only the placeholders {field} and {Field} (no other "
        "name, format, index or attribute).",
    )


def _check_braces(text: str, placeholders: re.Pattern, rule: str) -> None:
    """Refuses a brace left in ``text`` once its ``placeholders`` are taken out."""
    rest = placeholders.sub("", text)
    if "{" in rest or "}" in rest:
        raise ValueError(f"{text!r}: {rule}")


def _check_number_source(
    kind: str, source: str, field_types: dict[str, str] | None
) -> None:
    if kind == "constant":
        _number(source)
        return
    if kind != "string":
        raise ValueError("Only a single field or a constant can become a number.")
    if field_types is None:
        return
    data_type = field_types.get(source)
    if data_type not in NUMERIC_TYPES:
        what = f"a {data_type} field" if data_type else "not a field of this type"
        raise ValueError(
            f"{source!r} is {what}: only integer, decimal and float fields can "
            "become a number."
        )


def build_item(
    entries: Iterable[Entry], values: dict, *, profile: dict | None, time_zone: str
) -> dict:
    """The item for one data point; null values are left out, as Salesmanago's SDK does."""
    item: dict[str, Any] = {}
    zone = ZoneInfo(time_zone)
    for entry in entries:
        if entry.kind == "dynamic" and entry.target == "properties":
            _merge(item, "properties", _properties(entry, values))
            continue
        value = _value(entry, values, profile or {})
        if value is None or value == "" or value == []:
            continue
        _put(item, entry.target, convert(value, entry.conversion, zone))
    return item


def _value(entry: Entry, values: dict, profile: dict) -> Any:
    if entry.kind == "constant":
        return entry.source
    if entry.kind == "dynamic":
        fields = _TEMPLATE_FIELDS.findall(entry.source)
        parts = {f: _lookup(f, values, profile) for f in fields}
        if all(parts[f] in (None, "") for f in fields):
            return None
        text = _TEMPLATE_FIELDS.sub(lambda m: _text(parts[m.group(1)]), entry.source)
        return _bounded(" ".join(text.split()), entry.target)
    if entry.kind == "list":
        return _list(entry.source, values, profile)
    return _lookup(entry.source, values, profile)


def _list(source: str, values: dict, profile: dict) -> list:
    """One array field, or several fields gathered into one list."""
    items: list = []
    for name in (n.strip() for n in source.split(",")):
        value = _lookup(name, values, profile)
        if isinstance(value, list):
            items.extend(value)
        elif value not in (None, ""):
            items.append(value)
    return items


def _lookup(name: str, values: dict, profile: dict) -> Any:
    if name.startswith("profile."):
        return profile.get(name.removeprefix("profile."))
    return values.get(name)


def _properties(entry: Entry, values: dict) -> dict[str, str]:
    template = entry.name_template or "{field}"
    try:
        check_name_template(template)
    except ValueError as exc:  # saved before templates were checked
        raise PayloadError(str(exc)) from None
    fields = [f.strip() for f in entry.source.split(",") if f.strip()]
    return {
        _property_name(template, f): _bounded(_text(values[f]), f)
        for f in fields
        if values.get(f) not in (None, "")
    }


def _property_name(template: str, field: str) -> str:
    """Plain substitution, never str.format: a template is data, not code."""
    capital = field[:1].upper() + field[1:]
    name = _NAME_PLACEHOLDERS.sub(
        lambda m: field if m.group(0) == "{field}" else capital, template
    )
    return _bounded(name, "a property name")


def _bounded(text: str, what: str) -> str:
    if len(text) > MAX_TEMPLATE_CHARS:
        raise PayloadError(
            f"{what}: {len(text):,} characters; at most {MAX_TEMPLATE_CHARS:,} are sent"
        )
    return text


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    return str(value)


def convert(value: Any, conversion: str, zone: ZoneInfo) -> Any:
    """Applies an entry's explicit conversion to a stored value."""
    if conversion == "text":
        return _text(value)
    if conversion == "number":
        return _number(value)
    if conversion == "birthday":
        return dt.date.fromisoformat(str(value)).strftime("%Y%m%d")
    if conversion == "epoch_ms":
        moment = dt.datetime.fromisoformat(str(value))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        return int(moment.timestamp() * 1000)
    return value


def _number(value: Any) -> int | float:
    """A JSON number from a stored number or decimal text, within the bounds above."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise PayloadError(f"{_show(value)} is not a number")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise PayloadError(f"{_show(value)} is not a finite number")
        value = repr(value)
    text = str(value) if isinstance(value, str) else None
    if text is None:  # an int: its size, not its text, is the bound
        if value.bit_length() > 100:
            raise PayloadError("the number has more than 30 digits")
        return value
    if len(text) > MAX_NUMBER_CHARS or not _NUMBER_TEXT.fullmatch(text):
        raise PayloadError(f"{_show(text)} is not a number")
    number = Decimal(text)
    if number and abs(number.adjusted()) > MAX_NUMBER_EXPONENT:
        raise PayloadError(
            f"{_show(text)} is out of range (at most {MAX_NUMBER_EXPONENT} digits "
            "before or after the decimal point)"
        )
    return int(number) if number == number.to_integral_value() else float(number)


def _show(value: Any) -> str:
    """A value in a message: its JSON-like text, cut short."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _put(item: dict, path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node = item
    for part in parents:
        node = node.setdefault(part, {})
    if leaf == "tags" and isinstance(value, list):
        value = [str(v) for v in value]
    node[leaf] = value


def _merge(item: dict, key: str, values: dict) -> None:
    if values:
        item.setdefault(key, {}).update(values)


def require(item: dict, *paths: str) -> dict:
    """Raises PayloadError naming the first required path the item lacks."""
    for path in paths:
        node: Any = item
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node in (None, ""):
            raise PayloadError(f"the item has no {path}; check the Salesmanago mapping")
    return item


_ITEM_NAME = {"profile": "contact", "event": "external event", "inventory": "product"}

# What each kind of item must carry to be accepted.
REQUIRED = {
    "profile": ("contact.email",),
    "event": ("contactEvent.contactExtEventType", "contactEvent.date"),
    "inventory": ("productId", "name"),
}


# The opt-in flags of a contact item (reference §5.1). Consent is never taken from the
# customer's data: marketing consent cannot be changed through the API.
_NEW_CONTACT_CONSENT = {
    "forceOptIn": True,
    "forceOptOut": False,
    "forcePhoneOptIn": True,
    "forcePhoneOptOut": False,
}
_NO_CHANGE = dict.fromkeys(_NEW_CONTACT_CONSENT, False)


def with_consent(item: dict, *, existing: bool) -> dict:
    """A contact item with its opt-in flags: a new contact is created opted in; an
    existing one (removed ones included) is sent "no change" (all four flags false,
    as the official SDK does), so a person who opted out stays opted out."""
    return {**item, **(_NO_CHANGE if existing else _NEW_CONTACT_CONSENT)}
