"""Pure builders of what is sent to Salesmanago: one item per data point.

An item is built from the data point's stored values (by CDP field name), the linked
profile's values for events, and the mapping's entries. Nothing here does I/O.
"""

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

_TEMPLATE_FIELDS = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)\}")
KINDS = {"string", "list", "dynamic", "constant"}
CONVERSIONS = {"", "text", "number", "birthday", "epoch_ms"}


class PayloadError(ValueError):
    """The data point cannot become a Salesmanago item (e.g. no contact email)."""


@dataclass(frozen=True, slots=True)
class Entry:
    kind: str
    source: str
    target: str
    conversion: str = ""
    name_template: str = ""


def check_entry(kind: str, source: str, target: str, conversion: str) -> None:
    """Raises ValueError when an entry cannot work, whatever the data."""
    if kind not in KINDS:
        raise ValueError(f"Unknown kind {kind!r}.")
    if conversion not in CONVERSIONS:
        raise ValueError(f"Unknown conversion {conversion!r}.")
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)*", target):
        raise ValueError(f"{target!r} is not a dotted Salesmanago field path.")
    if (
        kind == "dynamic"
        and target != "properties"
        and not _TEMPLATE_FIELDS.search(source)
    ):
        raise ValueError(
            "A dynamic entry needs a template such as {first_name} {last_name}."
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
        return " ".join(text.split())
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
    fields = [f.strip() for f in entry.source.split(",") if f.strip()]
    return {
        template.format(field=f, Field=f[:1].upper() + f[1:]): _text(values[f])
        for f in fields
        if values.get(f) not in (None, "")
    }


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
        number = Decimal(str(value))
        return int(number) if number == number.to_integral_value() else float(number)
    if conversion == "birthday":
        return dt.date.fromisoformat(str(value)).strftime("%Y%m%d")
    if conversion == "epoch_ms":
        moment = dt.datetime.fromisoformat(str(value))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        return int(moment.timestamp() * 1000)
    return value


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


# What each kind of item must carry to be accepted.
REQUIRED = {
    "profile": ("contact.email",),
    "event": ("contactEvent.contactExtEventType", "contactEvent.date"),
    "inventory": ("productId", "name"),
}
