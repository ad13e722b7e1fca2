"""The service's URLs plus ``POST /bench/bare``, the framework's reference point.

The bare view parses the same JSON body with DRF's own parser and answers a small JSON
object, behind the same middleware and server, with no authentication and no database:
what one request costs in this stack before the service does anything.
"""

from django.urls import path
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from datatalks.urls import handler400, handler404, handler500
from datatalks.urls import urlpatterns as service_urlpatterns

__all__ = ["handler400", "handler404", "handler500", "urlpatterns"]


class BareView(APIView):
    """Parses the body and answers ``{"success": true, "fields": n}``."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []
    parser_classes = [JSONParser]

    def post(self, request):
        body = request.data
        fields = len(body.get("data") or {}) if isinstance(body, dict) else 0
        return Response({"success": True, "fields": fields})

    def get(self, request):
        """Readiness: bench/run.py waits for this before it loads the server."""
        return Response({"success": True})


urlpatterns = [path("bench/bare", BareView.as_view()), *service_urlpatterns]
