"""API-wide request handling outside the views: the body limit and the request log."""

import logging
import time

from django.conf import settings
from django.db import DatabaseError

from datatalks.api import envelope_response
from mappings.spec import spec_for_customer

from .models import RequestLog

logger = logging.getLogger(__name__)

API_PREFIXES = ("/v2/", "/v3/")


class ApiRequestMiddleware:
    """Refuses oversized bodies before anything reads them, and records every API request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(API_PREFIXES):
            return self.get_response(request)
        started = time.perf_counter()
        response = self._too_large(request) or self.get_response(request)
        self._record(request, response, (time.perf_counter() - started) * 1000)
        # API answers are JSON only: nothing in them may load or frame anything.
        response.setdefault(
            "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"
        )
        return response

    def _too_large(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return envelope_response(request, 400, ["Content-Length is not a number."])
        limit = (
            settings.DATATALKS_BATCH_MAX_BODY_BYTES
            if request.path.endswith("/batch")
            else settings.DATATALKS_MAX_BODY_BYTES
        )
        if length > limit:
            return envelope_response(
                request,
                413,
                [f"The request body is {length} bytes; the limit is {limit}."],
            )
        return None

    def _record(self, request, response, duration_ms: float) -> None:
        body = getattr(request, "envelope", None) or {}
        caller = getattr(request, "caller", None)
        type_name = str(getattr(request, "type_name", ""))[:100]
        try:
            RequestLog.objects.create(
                request_id=request.request_id,
                customer=caller.customer if caller else None,
                access_key_id=caller.access_key_id if caller else "",
                environment=caller.environment if caller else "",
                method=request.method[:10],
                path=request.path[:300],
                type_name=type_name,
                mapping_version=_version_of(caller, type_name),
                status_code=response.status_code,
                messages=body.get("messages", []),
                datatalks_id=body.get("datatalksId"),
                duration_ms=round(duration_ms, 3),
            )
        except DatabaseError:
            logger.warning("request log not written: database error", exc_info=True)


def _version_of(caller, type_name: str) -> int | None:
    """The version of the caller's type mapping (from the cached spec: no query)."""
    if caller is None or not type_name:
        return None
    type_spec = spec_for_customer(customer=caller.customer).types.get(type_name)
    return type_spec.version if type_spec else None
