"""A fresh requestId for every request, in the response header and in every log line,
with the caller (customer and key) once authentication has named it."""

import contextvars
import logging
import uuid
from dataclasses import dataclass, replace

from django.utils.log import log_response


@dataclass(frozen=True, slots=True)
class LogContext:
    """What every log line of the current request carries."""

    request_id: str = "-"
    customer: str = "-"
    key: str = "-"


_context: contextvars.ContextVar[LogContext] = contextvars.ContextVar(
    "log_context",
    default=LogContext(),  # noqa: B039  (frozen: never changed in place)
)


def current_request_id() -> str:
    return _context.get().request_id


def log_caller_bind(*, customer: str, key: str) -> None:
    """Names the authenticated caller (customer slug, access key id) in the rest of
    this request's log lines."""
    _context.set(replace(_context.get(), customer=customer, key=key))


class RequestIdLogFilter(logging.Filter):
    """Adds the current request's id, customer and key to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _context.get()
        record.request_id = context.request_id
        record.customer = context.customer
        record.key = context.key
        return True


class RequestIdMiddleware:
    """Gives each request a UUID ``request.request_id`` and an ``X-Request-Id`` header."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = str(uuid.uuid4())
        token = _context.set(LogContext(request_id=request.request_id))
        try:
            response = self.get_response(request)
            response["X-Request-Id"] = request.request_id
            _log_refusal(request, response)
        finally:
            _context.reset(token)
        return response


def _log_refusal(request, response) -> None:
    """django.request's line for a 4xx or 5xx, written here so that it carries the
    request's ids (Django's handler writes it after every middleware has returned, and
    skips a response already logged). A 503 is a dependency's outage, logged once by
    whoever answered it (datatalks.outages): no second line."""
    if response.status_code == 503:
        response._has_been_logged = True  # Django's own mark (django.utils.log)
    elif response.status_code >= 400:
        log_response(
            "%s: %s",
            response.reason_phrase,
            request.path,
            response=response,
            request=request,
        )
