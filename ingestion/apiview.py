"""The base of every signed API endpoint.

The caller is what authentication returned (``request.user``, an ``ApiCaller``) and
nothing else; every answer carries its key; and the view writes the request log row
itself, with what the service returned (``ingestion.request_log``).
"""

import time

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from datatalks.api import envelope
from datatalks.middleware import log_caller_bind
from datatalks.outages import POSTGRESQL, dependency_back

from .caller import ApiCaller
from .metrics import request_observe
from .request_log import LogEntry, request_log_write
from .services import Rejected
from .validation import Judgement

NOT_JUDGED = Judgement()  # requests that named no type (batches, the schema, refusals)


class ApiView(APIView):
    """A DRF view that answers in the envelope and logs every answer it gives."""

    caller: ApiCaller | None = None

    def dispatch(self, request, *args, **kwargs):
        self.started = time.perf_counter()
        return super().dispatch(request, *args, **kwargs)

    def perform_authentication(self, request):
        super().perform_authentication(request)
        self.caller = request.user
        if self.caller:
            log_caller_bind(
                customer=self.caller.customer.slug, key=self.caller.access_key_id
            )

    def envelope(self, *, success: bool, messages: list[str], datatalks_id=None):
        """The envelope of this request's answer, with the caller's key."""
        key = self.caller.access_key_id if self.caller else None
        return envelope(
            self.request,
            success=success,
            messages=messages,
            datatalks_id=datatalks_id,
            key=key,
        )

    def log_entry(self) -> LogEntry:
        """This request, for a service that writes its log row with the data."""
        return LogEntry(
            request_id=self.request.request_id,
            method=self.request.method,
            path=self.request.path,
            started=self.started,
        )

    def answer(
        self,
        body: dict,
        *,
        judgement: Judgement = NOT_JUDGED,
        changed: bool | None = None,
        logged: bool = False,
    ) -> Response:
        """A 200 with ``body``, logged with what judged it and whether it changed
        anything (unless the service already wrote the row: ``logged``)."""
        response = Response(body)
        self.log(response, judgement, changed=changed, row_written=logged)
        return response

    def get_exception_handler_context(self):
        key = self.caller.access_key_id if self.caller else None
        return {**super().get_exception_handler_context(), "key": key}

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        judgement = exc.judgement if isinstance(exc, Rejected) else NOT_JUDGED
        self.log(response, judgement)
        return response

    def log(
        self,
        response: Response,
        judgement: Judgement,
        *,
        changed: bool | None = None,
        row_written: bool = False,
    ) -> None:
        """Observes the answer (metrics) and writes its log row, unless the service
        wrote the row with the data (``row_written``)."""
        seconds = time.perf_counter() - self.started
        if self.caller and response.status_code < 500:
            # Authentication read the credential: the database answers again.
            dependency_back(POSTGRESQL)
        request_observe(
            request=self.request,
            caller=self.caller,
            status_code=response.status_code,
            seconds=seconds,
        )
        if row_written:
            return
        request_log_write(
            request=self.request,
            caller=self.caller,
            status_code=response.status_code,
            answer=response.data if isinstance(response.data, dict) else {},
            judgement=judgement,
            duration_ms=seconds * 1000,
            changed=changed,
        )


def documented_post(
    base: type[ApiView], name: str, operation: dict, handle: str, **attrs
):
    """The view of a class ``name`` made of ``base`` and ``attrs``, whose POST calls
    its method ``handle`` and is described by the OpenAPI ``operation``: a class of its
    own per path, since drf-spectacular describes a view class once."""

    @extend_schema(**operation)
    def post(self, request):
        return getattr(self, handle)(request)

    return type(name, (base,), {**attrs, "post": post}).as_view()
