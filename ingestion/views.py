"""One thin view per endpoint: authenticate, call the service, answer in the envelope."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from datatalks.api import envelope

from . import schema
from .parsers import ApiJSONParser
from .services import datapoint_ingest, datapoints_ingest_batch
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
        return Response(
            envelope(request, success=True, messages=[], datatalks_id=datatalks_id)
        )


class BatchIngestView(IngestView):
    """``POST /v3/{profiles,events,inventory}/batch``: up to 1,000 items, each on its own."""

    def ingest(self, request):
        results = datapoints_ingest_batch(
            caller=request.user,
            category=CATEGORY_OF_PATH[self.path_name],
            body=request.data,
        )
        failed = sum(1 for r in results if not r.success)
        messages = (
            [f"{failed} of {len(results)} items were rejected; see results"]
            if failed
            else []
        )
        body = envelope(request, success=not failed, messages=messages)
        body["results"] = [
            {
                "index": r.index,
                "success": r.success,
                "messages": r.messages,
                "datatalksId": str(r.datatalks_id) if r.datatalks_id else None,
            }
            for r in results
        ]
        return Response(body)


def batch_view(path_name: str):
    """The batch view for one category, with its own OpenAPI description."""

    @extend_schema(**schema.batch_operation(path_name))
    def post(self, request):
        return self.ingest(request)

    view = type(
        f"{path_name.title()}BatchView",
        (BatchIngestView,),
        {"version": "v3", "path_name": path_name, "post": post},
    )
    return view.as_view()


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
