"""One customer's API, described from its own mappings: a JSON Schema of each data
point type's request body, and an OpenAPI 3.1 document of the customer's endpoints.

Both are built from the compiled spec that judges the customer's requests, so they say
what the API accepts, and they change with the mapping (its version is in them).
"""

import datetime as dt
from typing import Any

from datatalks.api import ERROR_ANSWERS, envelope_json_schema
from mappings.categories import PATH_OF_CATEGORY
from mappings.models import Category, Customer, DataPointType
from mappings.spec import CustomerSpec, FieldSpec, TypeSpec, spec_for_customer
from mappings.types import (
    DataType,
    boolean_words,
    datetime_pattern,
    datetime_tokens,
)

from .privacy.schema import customer_profile_paths

DIALECT = "https://json-schema.org/draft/2020-12/schema"
ENVELOPE = "datatalks.Envelope"  # a type name cannot hold a dot: no clash
_SAMPLE_MOMENT = dt.datetime(2021, 3, 18, 11, 35, 24)
_NUMBER_TEXT = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_REGEX_SYNTAX = set("^$\\.*+?()[]{}|/")
_STRPTIME = {"%Y": "[0-9]{4}", "%m": "[0-9]{1,2}", "%d": "[0-9]{1,2}"} | {
    d: "[0-9]{1,2}" for d in ("%H", "%M", "%S")
}


def customer_json_schema(*, customer: Customer) -> dict[str, Any]:
    """A JSON Schema (2020-12) that accepts a request body of any of the customer's
    active types; each type's body is in ``$defs`` under the type's name."""
    spec = spec_for_customer(customer=customer)
    bodies = _bodies(customer, spec)
    document: dict[str, Any] = {
        "$schema": DIALECT,
        "title": f"Data Talks API: the data point types of {customer.name}",
        "description": "Request bodies for POST /v2|v3/{profiles,events,inventory}, "
        f"generated from your mappings ({_versions_text(spec)}).",
        "x-datatalks-mapping-versions": mapping_versions(spec),
        "$defs": bodies,
    }
    if bodies:
        document["oneOf"] = [{"$ref": f"#/$defs/{name}"} for name in bodies]
    return document


def mapping_versions(spec) -> dict[str, int]:
    """Each active type's mapping version: what the request log cites per request."""
    return {name: t.version for name, t in sorted(spec.types.items()) if t.active}


def _versions_text(spec) -> str:
    shown = ", ".join(f"{name} v{v}" for name, v in mapping_versions(spec).items())
    return f"mapping versions: {shown}" if shown else "no active types yet"


def customer_openapi(*, customer: Customer, server_url: str = "") -> dict[str, Any]:
    """An OpenAPI 3.1 document of the customer's endpoints, with their own types."""
    spec = spec_for_customer(customer=customer)
    bodies = _bodies(customer, spec)
    document = {
        "openapi": "3.1.0",
        "jsonSchemaDialect": DIALECT,
        "info": {
            "title": f"Data Talks API for {customer.name}",
            "version": "3.0.0",
            "description": "Your endpoints and data point types, generated from your "
            f"mappings ({_versions_text(spec)}). Requests are signed with AWS Signature Version 4 (service "
            "`execute-api`). Every answer is the envelope "
            "`{success, messages, requestId, datatalksId, key}`.",
        },
        "x-datatalks-mapping-versions": mapping_versions(spec),
        "paths": _paths(spec),
        "components": {
            "schemas": {**bodies, ENVELOPE: envelope_json_schema()},
            "securitySchemes": {"awsSigV4": _SIGV4},
        },
        "security": [{"awsSigV4": []}],
    }
    if server_url:
        document["servers"] = [{"url": server_url}]
    return document


def _active_types(spec: CustomerSpec) -> list[TypeSpec]:
    return sorted(
        (t for t in spec.types.values() if t.active), key=lambda t: (t.category, t.name)
    )


def _bodies(customer: Customer, spec: CustomerSpec) -> dict[str, dict]:
    descriptions = dict(
        DataPointType.objects.filter(customer=customer).values_list(
            "name", "description"
        )
    )
    names = {t.id: t.name for t in spec.types.values()}
    return {
        t.name: body_schema(t, spec, names, descriptions.get(t.name, ""))
        for t in _active_types(spec)
    }


def body_schema(
    type_spec: TypeSpec, spec: CustomerSpec, names: dict[int, str], description: str
) -> dict[str, Any]:
    """The request body of one type: its envelope keys and its mapped ``data``."""
    data = {
        "type": "object",
        "description": "Unmapped fields are ignored; nested objects are refused.",
        "properties": {f.source: field_schema(f, names) for f in type_spec.fields},
        "required": [f.source for f in type_spec.fields if not f.optional],
    }
    return {
        "type": "object",
        "title": f"{type_spec.name} ({type_spec.category})",
        "description": description
        or f"A {type_spec.category} of type {type_spec.name}.",
        "x-datatalks-mapping-version": type_spec.version,
        "properties": {
            "type": {"const": type_spec.name},
            "groupKey": _group_key(spec),
            "data": data,
            "datatalksId": {
                "type": "string",
                "format": "uuid",
                "description": "The data point's Datatalks ID, when known.",
            },
        },
        "required": ["type", "data"],
        "examples": [example_body(type_spec, spec)],
    }


def _group_key(spec: CustomerSpec) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "string",
        "enum": sorted(spec.group_keys),
        "description": "Required in v2; in v3 it defaults to your default group key.",
    }
    if spec.default_group_key:
        schema["default"] = spec.default_group_key
    return schema


def field_schema(field: FieldSpec, names: dict[int, str]) -> dict[str, Any]:
    """What one field accepts, as JSON Schema, with the mapping's rules in words."""
    schema = dict(_SCHEMAS[field.data_type](field.fmt))
    notes = [schema.pop("description", ""), f"Stored as `{field.cdp}`."]
    if field.hard_id:
        notes.append("Part of the Hard-ID: required, never null or empty.")
        if schema.get("type") == "string":
            schema["minLength"] = 1
    if field.secondary_id:
        notes.append("A secondary identifier.")
    if field.references_type_id:
        notes.append(f"Refers to the Hard-ID of a {names[field.references_type_id]}.")
    if field.optional:
        schema = _nullable(schema)
    schema["description"] = " ".join(n for n in notes if n)
    schema["examples"] = [example_value(field)]
    return schema


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if isinstance(schema.get("type"), str):
        return {**schema, "type": [schema["type"], "null"]}
    if "anyOf" in schema:
        return {**schema, "anyOf": [*schema["anyOf"], {"type": "null"}]}
    return {**schema, "type": [*schema["type"], "null"]}


def _integer(fmt: str) -> dict:
    return {
        "anyOf": [
            {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1},
            {"type": "string", "pattern": "^[+-]?[0-9]+$"},
        ],
        "description": "An integer (64-bit), or a string of one.",
    }


def _number(fmt: str) -> dict:
    return {
        "anyOf": [{"type": "number"}, {"type": "string", "pattern": _NUMBER_TEXT}],
        "description": 'A number; send money as a string such as "123.75" to keep it '
        "exact.",
    }


def _boolean(fmt: str) -> dict:
    true_word, false_word = boolean_words(fmt)
    written = fmt.split("/") if fmt else []
    words = list(dict.fromkeys([*written, true_word, false_word, "true", "false"]))
    return {
        "anyOf": [{"type": "boolean"}, {"type": "string", "enum": words}],
        "description": f"true/false, or {true_word}/{false_word} (any case).",
    }


def _datetime(fmt: str) -> dict:
    shown = fmt or "YYYY-MM-DD HH:MM:SS"
    schema = {
        "type": "string",
        "description": f"A datetime written {shown}, without a time zone.",
    }
    pattern = datetime_regex(shown)
    if pattern:
        schema["pattern"] = pattern
    return schema


def datetime_regex(fmt: str) -> str:
    """A regular expression for what the API reads in a datetime format, token by
    token as mappings.types reads it; "" where a directive has no simple one."""
    parts = []
    for written, read in datetime_tokens(fmt):
        if not read.startswith("%"):
            parts.append(_literal(read))
        elif written != read:  # readable: as many digits as letters written
            parts.append(f"[0-9]{{{len(written)}}}")
        elif read in _STRPTIME:
            parts.append(_STRPTIME[read])
        else:
            return ""
    # The API reads a "T" in place of the first space (ISO 8601 style).
    return "^" + "".join(parts).replace(" ", "[ T]", 1) + "$"


def _literal(char: str) -> str:
    # Only syntax characters are escaped: ECMA-262's unicode mode refuses the rest.
    return "\\" + char if char in _REGEX_SYNTAX else char


_SCHEMAS = {
    DataType.STRING: lambda fmt: {"type": "string"},
    DataType.PHONE: lambda fmt: {"type": "string", "description": "A phone number."},
    DataType.INTEGER: _integer,
    DataType.DECIMAL: _number,
    DataType.FLOAT: _number,
    DataType.BOOLEAN: _boolean,
    DataType.DATE: lambda fmt: {
        "type": "string",
        "format": "date",
        "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
        "description": "A date written YYYY-MM-DD.",
    },
    DataType.DATETIME: _datetime,
    DataType.EMAIL: lambda fmt: {"type": "string", "format": "email"},
    DataType.LIST: lambda fmt: {
        "type": "array",
        "items": {"type": ["string", "number", "boolean", "null"]},
        "description": "An array of scalars.",
    },
}


def example_value(field: FieldSpec) -> Any:
    """A value the API accepts for the field (the reference's examples where it can)."""
    kind = field.data_type
    if kind == DataType.STRING:
        return "ID-1001" if field.hard_id or field.references_type_id else "example"
    if kind == DataType.BOOLEAN:
        return field.fmt.split("/")[0] if field.fmt else True
    if kind == DataType.DATETIME:
        return _SAMPLE_MOMENT.strftime(datetime_pattern(field.fmt))
    return {
        DataType.INTEGER: 12345,
        DataType.DECIMAL: "123.75",
        DataType.FLOAT: "123.75",
        DataType.DATE: "2021-03-18",
        DataType.EMAIL: "juliana.crane@fake.com",
        DataType.PHONE: "+46701234567",
        DataType.LIST: ["TAG1", "TAG2"],
    }[kind]


def example_body(type_spec: TypeSpec, spec: CustomerSpec) -> dict[str, Any]:
    """A request body of the type that the API accepts."""
    body: dict[str, Any] = {"type": type_spec.name}
    if spec.default_group_key:
        body["groupKey"] = spec.default_group_key
    body["data"] = {f.source: example_value(f) for f in type_spec.fields}
    return body


def _paths(spec: CustomerSpec) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for category, path_name in PATH_OF_CATEGORY.items():
        names = [t.name for t in _active_types(spec) if t.category == category]
        if not names:
            continue
        refs = {"oneOf": [{"$ref": f"#/components/schemas/{n}"} for n in names]}
        v2 = {"allOf": [refs, {"required": ["groupKey"]}]}
        paths[f"/v2/{path_name}"] = {"post": _ingest("v2", path_name, names, v2)}
        paths[f"/v3/{path_name}"] = {"post": _ingest("v3", path_name, names, refs)}
        batch = {
            "type": "object",
            "required": ["items"],
            "properties": {"items": {"type": "array", "minItems": 1, "items": refs}},
        }
        paths[f"/v3/{path_name}/batch"] = {
            "post": _ingest("v3", path_name, names, batch, batch=True)
        }
    paths["/v3/schema"] = {"get": _schema_operation()}
    if any(t.category == Category.PROFILE for t in _active_types(spec)):
        envelope = f"#/components/schemas/{ENVELOPE}"
        paths["/v3/profiles/{datatalksId}"] = customer_profile_paths(envelope)
    return paths


def _ingest(version, path_name, names, schema, batch=False) -> dict[str, Any]:
    summary = f"Send up to 1,000 {path_name}" if batch else f"Send one of {path_name}"
    return {
        "operationId": f"{version}_{path_name}_{'batch' if batch else 'create'}",
        "summary": summary,
        "description": "Your types here: " + ", ".join(f"`{n}`" for n in names) + ".",
        "tags": [path_name],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        },
        "responses": _responses("Stored." if not batch else "Processed."),
    }


def _responses(ok: str) -> dict[str, Any]:
    envelope = {
        "application/json": {"schema": {"$ref": f"#/components/schemas/{ENVELOPE}"}}
    }
    texts = {200: ok, **ERROR_ANSWERS}
    return {
        str(code): {"description": text, "content": envelope}
        for code, text in texts.items()
    }


def _schema_operation() -> dict[str, Any]:
    return {
        "operationId": "v3_schema_retrieve",
        "summary": "This document, generated from your mappings",
        "tags": ["schema"],
        "parameters": [
            {
                "name": "document",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "enum": ["openapi", "json-schema"]},
                "description": "`openapi` (default) or `json-schema`.",
            }
        ],
        "responses": {
            "200": {
                "description": "The document.",
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
            "400": {"description": "An unknown `document`."},
            "403": {"description": "Missing Authentication Token."},
        },
    }


_SIGV4 = {
    "type": "apiKey",
    "in": "header",
    "name": "Authorization",
    "description": "AWS Signature Version 4 (`AWS4-HMAC-SHA256`), service "
    "`execute-api`, with the key pair Data Talks sent you.",
}
