"""One thin view per endpoint: authenticate, call the service, answer in the envelope."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from datatalks.api import envelope

from . import schema
from .parsers import ApiJSONParser
from .services import datapoint_ingest
from .validation import CATEGORY_OF_PATH


class IngestView(APIView):
    """``POST /{version}/{profiles,events,inventory}``: store one data point."""

    parser_classes = [ApiJSONParser]
    version = "v3"
    path_name = "profiles"

    def perform_authentication(self, request):
        super().perform_authentication(request)
        # The envelope and the request log read the caller from the Django request.
        request._request.caller = request.user

    def ingest(self, request):
        body = request.data
        if isinstance(body, dict):
            request._request.type_name = body.get("type") or ""
        datatalks_id = datapoint_ingest(
            caller=request.user,
            category=CATEGORY_OF_PATH[self.path_name],
            version=self.version,
            body=body,
        )
        return Response(envelope(request, success=True, messages=[], datatalks_id=datatalks_id))


def ingest_view(version: str, path_name: str):
    """The view for one version and category, with its own OpenAPI description."""

    @extend_schema(**schema.ingest_operation(version, path_name))
    def post(self, request):
        return self.ingest(request)

    view = type(
        f"{path_name.title()}{version.upper()}View",
        (IngestView,),
        {"version": version, "path_name": path_name, "post": post},
    )
    return view.as_view()
