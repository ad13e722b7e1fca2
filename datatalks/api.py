"""One response envelope for every API response, and the one exception handler.

Every answer is ``{"success", "messages", "requestId", "datatalksId", "key"}``. The
envelope is a plain value: whoever answers (a view, a middleware) logs what it answered.
It is described here once (EnvelopeSerializer, ERROR_ANSWERS) for both OpenAPI
documents: the global one and each customer's own.
"""

import logging
import math

from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf
from rest_framework import serializers
from rest_framework.response import Response

from .errors import ApiError
from .middleware import current_request_id
from .outages import POSTGRESQL, dependency_failed

logger = logging.getLogger(__name__)

SERVER_ERROR = (
    "Internal server error: please contact us and include the requestId in your report."
)
UNAVAILABLE = (
    "The service is temporarily unavailable; retry shortly with the same body."
)


# The envelope, for the documents. No docstring: drf-spectacular would publish it.
class EnvelopeSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    messages = serializers.ListField(
        child=serializers.CharField(), help_text="Every problem found, one per entry."
    )
    requestId = serializers.UUIDField(help_text="Quote it when you contact us.")
    datatalksId = serializers.UUIDField(allow_null=True)
    key = serializers.CharField(allow_null=True, help_text="Your access key id.")


# Every error an ingestion endpoint can answer (always in the envelope), and what it
# means to the caller.
ERROR_ANSWERS = {
    400: "Bad request: see `messages`, one entry per problem.",
    403: "Missing Authentication Token, or a refused AWS Signature V4.",
    406: "The Accept header does not allow application/json, the only answer type.",
    413: "The body is larger than the limit.",
    415: "The body is not application/json.",
    429: "Too many requests; retry after `Retry-After` seconds.",
    500: "Internal server error: include the requestId in your report.",
    503: "Temporarily unavailable; retry with the same body.",
}


def envelope_json_schema() -> dict:
    """EnvelopeSerializer as JSON Schema (2020-12), for documents written as data."""
    fields = EnvelopeSerializer().fields
    return {
        "type": "object",
        "required": list(fields),
        "properties": {name: _json_schema(field) for name, field in fields.items()},
    }


_JSON_TYPES = [
    (serializers.BooleanField, {"type": "boolean"}),
    (serializers.UUIDField, {"type": "string", "format": "uuid"}),
    (serializers.CharField, {"type": "string"}),
]


def _json_schema(field: serializers.Field) -> dict:
    if isinstance(field, serializers.ListField):
        schema = {"type": "array", "items": _json_schema(field.child)}
    else:
        schema = next(dict(s) for kind, s in _JSON_TYPES if isinstance(field, kind))
    if field.allow_null:
        schema["type"] = [schema["type"], "null"]
    if field.help_text:
        schema["description"] = str(field.help_text)
    return schema


def envelope(
    request,
    *,
    success: bool,
    messages: list[str],
    datatalks_id=None,
    key: str | None = None,
) -> dict:
    """The response body of every answer; ``key`` is the caller's access key id."""
    return {
        "success": success,
        "messages": messages,
        "requestId": getattr(request, "request_id", None) or current_request_id(),
        "datatalksId": str(datatalks_id) if datatalks_id else None,
        "key": key,
    }


def envelope_response(
    request, status: int, messages: list[str], **headers
) -> JsonResponse:
    """A plain Django response in the envelope, for errors outside DRF views."""
    body = envelope(request, success=status < 400, messages=messages)
    response = JsonResponse(body, status=status)
    for name, value in headers.items():
        response[name] = value
    return response


# The database could not be reached (or the connection broke): answered 503.
DEPENDENCY_DOWN = (OperationalError, InterfaceError)


def exception_handler(exc, context):
    """Maps every exception a view can raise to the envelope; never a traceback.

    ``context["key"]``, when the view adds it, is the caller's access key id.
    """
    status, messages, headers = error_answer(exc)
    if isinstance(exc, DEPENDENCY_DOWN):
        request = context["request"]
        dependency_failed(
            POSTGRESQL,
            exc.__class__.__name__,
            method=request.method,
            path=request.path,
        )
    body = envelope(
        context["request"], success=False, messages=messages, key=context.get("key")
    )
    return Response(body, status=status, headers=headers)


def error_answer(exc) -> tuple[int, list[str], dict]:
    """The status, messages and headers the API answers an exception with."""
    if isinstance(exc, ApiError):
        return exc.status_code, exc.messages, {}
    if isinstance(exc, (drf.NotAuthenticated, drf.AuthenticationFailed)):
        return 403, [str(exc.detail)], {}
    if isinstance(exc, drf.Throttled):
        wait = max(1, math.ceil(exc.wait or 1))
        return 429, [f"{exc.detail} Retry after {wait} s."], {"Retry-After": str(wait)}
    if isinstance(exc, drf.APIException):
        return exc.status_code, _detail_messages(exc.detail), {}
    if isinstance(exc, Http404):  # DRF's answer to an unknown ?format=
        return 404, ["Not found."], {}
    if isinstance(exc, RequestDataTooBig):
        return 413, [str(exc) or "The request body is too large."], {}
    if isinstance(exc, DEPENDENCY_DOWN):  # logged by the caller (datatalks.outages)
        return 503, [UNAVAILABLE], {"Retry-After": "5"}
    if isinstance(exc, DatabaseError):
        logger.exception("database error")
        return 500, [SERVER_ERROR], {}
    logger.exception("unhandled error")
    return 500, [SERVER_ERROR], {}


def _detail_messages(detail) -> list[str]:
    if isinstance(detail, list):
        return [str(item) for item in detail]
    if isinstance(detail, dict):
        return [f"{key}: {value}" for key, value in detail.items()]
    return [str(detail)]


# Django-level handlers, for requests that never reach a DRF view.
def bad_request(request, exception=None):
    return envelope_response(request, 400, ["Bad request."])


def not_found(request, exception=None):
    return envelope_response(
        request, 404, [f"No endpoint at {request.method} {request.path}."]
    )


def server_error(request):
    return envelope_response(request, 500, [SERVER_ERROR])
