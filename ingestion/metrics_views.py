"""``GET /metrics``: the Prometheus text format, for a bearer of the metrics token."""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema

from datatalks.api import envelope_response
from datatalks.metrics import CONTENT_TYPE, bearer_allowed, exposition, metrics_enabled
from datatalks.ops import OpsView
from integrations.metrics import OutboxCollector


class MetricsView(OpsView):
    """``GET /metrics``: Prometheus text format, for a bearer of
    ``DATATALKS_METRICS_TOKEN``; without the setting there is no such endpoint."""

    @extend_schema(
        operation_id="metrics",
        tags=["operations"],
        summary="Prometheus metrics",
        description=(
            "The Prometheus text format. Send `Authorization: Bearer "
            "<DATATALKS_METRICS_TOKEN>`; without that setting the endpoint answers "
            "404. See docs/operations.md for the metrics and alerts."
        ),
        responses={
            (200, "text/plain"): OpenApiResponse(OpenApiTypes.STR),
            401: OpenApiResponse(description="No or a wrong bearer token."),
            404: OpenApiResponse(description="Metrics are off (no token is set)."),
        },
    )
    def get(self, request):
        if not metrics_enabled():
            return envelope_response(
                request, 404, [f"No endpoint at {request.method} {request.path}."]
            )
        if not bearer_allowed(request.headers.get("Authorization", "")):
            return envelope_response(
                request,
                401,
                ["Send the metrics token: Authorization: Bearer <token>."],
                **{"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        body = exposition(OutboxCollector())
        return HttpResponse(body, content_type=CONTENT_TYPE)
