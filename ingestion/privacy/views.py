"""``GET`` and ``DELETE /v3/profiles/{datatalksId}``: a person's data on request."""

import uuid

from drf_spectacular.utils import extend_schema

from datatalks.errors import PayloadInvalid

from ..apiview import ApiView
from . import schema
from .models import Via
from .selectors import profile_export
from .services import profile_erase

_FLAGS = {"true": True, "false": False}


class ProfileView(ApiView):
    """Export (GET) or erase (DELETE) one of the caller's profiles."""

    @extend_schema(**schema.export_operation())
    def get(self, request, datatalksId):  # the URL's name for it
        datatalks_id = _uuid(datatalksId)
        profile = profile_export(
            customer=request.user.customer,
            environment=request.user.environment,
            datatalks_id=datatalks_id,
        )
        body = self.envelope(success=True, messages=[], datatalks_id=datatalks_id)
        body["profile"] = profile
        return self.answer(body)

    @extend_schema(**schema.erase_operation())
    def delete(self, request, datatalksId):
        caller = request.user
        erasure = profile_erase(
            customer=caller.customer,
            environment=caller.environment,
            datatalks_id=_uuid(datatalksId),
            suppress=_flag(request.query_params.get("suppress", "false")),
            via=Via.API,
            requested_by=caller.access_key_id,
            request_id=getattr(request, "request_id", None),
        )
        messages = ["It was erased before; nothing more was done."] * erasure.already
        body = self.envelope(
            success=True, messages=messages, datatalks_id=erasure.datatalks_id
        )
        return self.answer(body)


def _uuid(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise PayloadInvalid(
            f"datatalksId: {text[:60]!r} is not a Datatalks ID (a UUID)"
        ) from None


def _flag(text: str) -> bool:
    if text.lower() not in _FLAGS:
        raise PayloadInvalid(f"suppress: {text[:20]!r} is not true or false")
    return _FLAGS[text.lower()]
