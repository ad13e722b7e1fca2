"""Pure validation of a request body against a customer's compiled mappings.

Nothing here touches the database or HTTP. Every problem is reported, each naming its
path (``data.email: "mma a@gma.com" is not a valid email address``).
"""

import json
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings

from mappings.categories import PATH_OF_CATEGORY
from mappings.spec import CustomerSpec, FieldSpec, TypeSpec, hard_id_key
from mappings.types import EMPTY_STRING_ALLOWED, Invalid, article

_SHOWN_VALUE_LENGTH = 80


@dataclass(frozen=True, slots=True)
class IngestRequest:
    """A body that passed every rule: what the services store."""

    type: TypeSpec
    group_key: str
    values: dict[str, Any]
    datatalks_id: uuid.UUID | None
    # The Hard-ID's canonical text, computed once: a batch's write sorts, dedupes
    # and matches its items by it several times each.
    hard_key: str


@dataclass(frozen=True, slots=True)
class Judgement:
    """What judged a body, for the request log: the type it named (empty when it named
    none) and the version of that type's mapping (None when there is no such type)."""

    type_name: str = ""
    mapping_version: int | None = None


def judgement_of(body: Any, spec: CustomerSpec) -> Judgement:
    """The type a single-item body names and the mapping version judging it."""
    if not isinstance(body, dict):
        return Judgement()
    type_name = str(body.get("type") or "")
    type_spec = spec.types.get(type_name)
    return Judgement(type_name, type_spec.version if type_spec else None)


def show(value: Any) -> str:
    """A value as the caller sent it, short enough for a message."""
    if isinstance(value, Decimal):
        text = str(value)
    else:
        text = json.dumps(value, ensure_ascii=False, default=str)
    if len(text) > _SHOWN_VALUE_LENGTH:
        text = text[: _SHOWN_VALUE_LENGTH - 1] + "…"
    return text


def validate_body(
    body: Any, *, spec: CustomerSpec, category: str, version: str
) -> tuple[IngestRequest | None, list[str]]:
    """Checks the envelope and, when its type is usable, the data; returns all errors."""
    if not isinstance(body, dict):
        return None, ["The body must be a JSON object with type, groupKey and data."]
    errors: list[str] = []
    type_spec = check_type(body.get("type"), spec, category, errors)
    group_key = check_group_key(body, spec, version, errors)
    datatalks_id = _check_datatalks_id(body.get("datatalksId"), errors)
    data = body.get("data")
    values: dict[str, Any] = {}
    if not isinstance(data, dict):
        errors.append(
            "data: is required" if data is None else "data: must be a JSON object"
        )
    else:
        errors.extend(_check_flat(data))
        if type_spec is not None:
            values, data_errors = validate_data(data, type_spec)
            errors.extend(data_errors)
    if errors:
        return None, errors
    hard_key = hard_id_key([values[f.cdp] for f in type_spec.hard_id_fields])
    return IngestRequest(type_spec, group_key, values, datatalks_id, hard_key), []


def check_type(name: Any, spec: CustomerSpec, category: str, errors: list[str]):
    if not isinstance(name, str) or not name:
        errors.append("type: is required (the name of one of your data point types)")
        return None
    type_spec = spec.types.get(name)
    if type_spec is None or not type_spec.active:
        errors.append(f"type: {show(name)} is not an active data point type of yours")
        return None
    if type_spec.category != category:
        errors.append(
            f"type: {show(name)} is {article(type_spec.category)} {type_spec.category} type; "
            f"send it to the {PATH_OF_CATEGORY[type_spec.category]} endpoint"
        )
        return None
    return type_spec


def check_group_key(body: dict, spec: CustomerSpec, version: str, errors: list[str]):
    key = body.get("groupKey", body.get("group_key"))
    if key is None:
        if version == "v2":
            errors.append("groupKey: is required in v2")
            return None
        if spec.default_group_key is None:
            errors.append("groupKey: is required (you have no default group key)")
        return spec.default_group_key
    if not isinstance(key, str) or key not in spec.group_keys:
        errors.append(f"groupKey: {show(key)} is not one of your group keys")
        return None
    return key


def _check_datatalks_id(raw: Any, errors: list[str]) -> uuid.UUID | None:
    if raw is None:
        return None
    try:
        if isinstance(raw, str):
            return uuid.UUID(raw)
    except ValueError:
        pass
    errors.append(
        f"datatalksId: {show(raw)} is not a UUID; leave it out for a new data point"
    )
    return None


def _check_flat(data: dict) -> list[str]:
    """The shape rules and size limits of ``data``, whatever the mapping."""
    if len(data) > settings.DATATALKS_MAX_FIELDS:
        return [
            f"data: {len(data)} fields; the limit is {settings.DATATALKS_MAX_FIELDS}"
        ]
    errors = []
    # Read once: each read of a setting goes through a lazy object (0.3 us).
    max_chars = settings.DATATALKS_MAX_STRING_CHARS
    for key, value in data.items():
        if isinstance(value, dict):
            errors.append(f"data.{_named(key)}: nested objects are not supported")
        elif isinstance(value, list):
            errors.extend(_check_array(key, value))
        elif isinstance(value, str) and len(value) > max_chars:
            errors.append(_too_long(key, value))
    return errors


def _check_array(key: str, value: list) -> list[str]:
    limit = settings.DATATALKS_MAX_ARRAY_ITEMS
    if len(value) > limit:
        return [
            f"data.{_named(key)}: an array of {len(value)} items; the limit is {limit}"
        ]
    if any(isinstance(v, (dict, list)) for v in value):
        return [f"data.{_named(key)}: arrays may hold only scalars"]
    return [
        _too_long(key, v)
        for v in value
        if isinstance(v, str) and len(v) > settings.DATATALKS_MAX_STRING_CHARS
    ][:1]


def _named(key: str) -> str:
    """An unmapped field's name, short enough for a message (a key can be 1 MB)."""
    if len(key) > _SHOWN_VALUE_LENGTH:
        return f"{key[: _SHOWN_VALUE_LENGTH - 1]}… ({len(key)} characters)"
    return key


def _too_long(key: str, value: str) -> str:
    return (
        f"data.{_named(key)}: a string of {len(value)} characters; the limit is "
        f"{settings.DATATALKS_MAX_STRING_CHARS}"
    )


def validate_data(data: dict, spec: TypeSpec) -> tuple[dict[str, Any], list[str]]:
    """Cleans ``data`` by the type's fields: values by CDP field name, and all errors.

    Unmapped fields are ignored; a missing optional field is stored as null.
    """
    values: dict[str, Any] = {}
    errors: list[str] = []
    for field in spec.fields:
        try:
            values[field.cdp] = _clean(field, data)
        except Invalid as exc:
            errors.append(f"data.{field.source}: {exc}")
    return values, errors


def _clean(field: FieldSpec, data: dict) -> Any:
    if field.source not in data:
        if field.optional:
            return None
        raise Invalid(
            "is required" + (" (part of the Hard-ID)" if field.hard_id else "")
        )
    value = data[field.source]
    if value is None:
        if field.hard_id:
            raise Invalid("is part of the Hard-ID and cannot be null")
        return None
    if value == "":
        if field.hard_id:
            raise Invalid("is part of the Hard-ID and cannot be empty")
        if field.data_type not in EMPTY_STRING_ALLOWED:
            raise Invalid(
                f"is an empty string, which is not a valid {field.data_type}; "
                "send null for no value"
            )
        return ""
    try:
        return field.parser(value, field.fmt)
    except Invalid as exc:
        raise Invalid(f"{show(value)} {exc}") from None
