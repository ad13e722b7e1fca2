"""API-wide request handling outside the views: the body limit, and the request log row
of every answer no API view gave (views log their own: ingestion.apiview)."""

import json
import time

from django.conf import settings

from datatalks.api import envelope_response

from .apiview import NOT_JUDGED, ApiView
from .metrics import request_observe
from .request_log import request_log_write

API_PREFIXES = ("/v2/", "/v3/")
FILES_PREFIX = "/v3/files/"


def is_file_upload(request) -> bool:
    return request.method == "POST" and request.path.startswith(FILES_PREFIX)


def body_limit(request) -> int:
    """The largest body an API request may have, by endpoint (docs/limits.md)."""
    if is_file_upload(request):
        return settings.DATATALKS_FILE_MAX_BYTES
    if request.path.endswith("/batch"):
        return settings.DATATALKS_BATCH_MAX_BODY_BYTES
    return settings.DATATALKS_MAX_BODY_BYTES


class ApiRequestMiddleware:
    """Refuses oversized bodies before anything reads them, and logs what it answered."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(API_PREFIXES):
            return self.get_response(request)
        started = time.perf_counter()
        response = self._too_large(request) or self.get_response(request)
        if not _answered_by_api_view(request):
            seconds = time.perf_counter() - started
            request_observe(
                request=request,
                caller=None,
                status_code=response.status_code,
                seconds=seconds,
            )
            request_log_write(
                request=request,
                caller=None,
                status_code=response.status_code,
                answer=_json(response),
                judgement=NOT_JUDGED,
                duration_ms=seconds * 1000,
            )
        # API answers are JSON only: nothing in them may load or frame anything.
        response.setdefault(
            "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"
        )
        _break_cycles(request, response)
        return response

    def _too_large(self, request):
        raw = request.META.get("CONTENT_LENGTH")
        try:
            length = int(raw or 0)
        except ValueError:
            return envelope_response(request, 400, ["Content-Length is not a number."])
        if is_file_upload(request):
            if not raw:
                return envelope_response(
                    request,
                    411,
                    [
                        "Send the file with a Content-Length header; a body without "
                        "one (chunked) is not read."
                    ],
                )
            if length == 0:
                return envelope_response(request, 400, ["The file is empty."])
        limit = body_limit(request)
        if length > limit:
            return envelope_response(
                request,
                413,
                [f"The request body is {length} bytes; the limit is {limit}."],
            )
        return None


def _answered_by_api_view(request) -> bool:
    """Whether an ApiView answered (it wrote the row): Django records the view it
    resolved the path to; no view ran for a 404 or a refusal made here."""
    match = request.resolver_match
    view_class = getattr(match.func, "view_class", None) if match else None
    return isinstance(view_class, type) and issubclass(view_class, ApiView)


def _json(response) -> dict:
    try:
        body = json.loads(response.content)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _break_cycles(request, response) -> None:
    """Lets this request's objects go when it ends, by reference counting, instead of
    leaving them to the garbage collector: each API request left about 77 objects in
    reference cycles (the request and its messages storage and ``auser``, DRF's view,
    request and response), and collecting them stopped every thread of the process
    for 4 ms (up to 17) several times a second at 600 req/s (bench/PROFILE.md). The
    response is rendered by now; what the server still needs of it stays."""
    request.__dict__.pop("_messages", None)  # its storage refers to the request
    request.__dict__.pop("auser", None)  # partial(auser, request)
    context = getattr(response, "renderer_context", None)
    if not context:
        return
    view = context.get("view")
    drf_request = getattr(view, "request", None)
    if drf_request is not None:
        drf_request.parser_context = None
    if view is not None:
        view.__dict__.clear()
    response.renderer_context = None
