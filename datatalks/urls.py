import threading
from functools import wraps

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
)

from datatalks import api
from datatalks.ops import HealthView, ReadyView

# The docs pages load only the app's own files (drf-spectacular-sidecar): the browser
# refuses anything else, such as the "API docs by Redocly" logo ReDoc fetches from its
# CDN, so an offline install behaves as an online one.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
    "worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'"
)


def self_contained(view):
    """The docs view with the Content-Security-Policy above."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response["Content-Security-Policy"] = DOCS_CSP
        return response

    return wrapped


def one_build_at_a_time(view):
    """The OpenAPI document's view, built by one thread of a process at a time.

    drf-spectacular loads its extension classes on a process's first build, and that
    load is not thread-safe: under gthread, the first requests for the document arriving
    together in a fresh worker answered 500 (AttributeError in its ``_load_class``).
    """
    building = threading.Lock()

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        with building:
            return view(request, *args, **kwargs)

    return wrapped


# "View site" leads to what this site publishes: its API documentation. The navigation
# sidebar is off so that lists have the screen's width (every page links home).
admin.site.site_header = "Data Talks API"
admin.site.site_title = "Data Talks API admin"
admin.site.site_url = "/api/docs/"
admin.site.enable_nav_sidebar = False

urlpatterns = [
    path("healthz", HealthView.as_view(), name="healthz"),
    path("readyz", ReadyView.as_view(), name="readyz"),
    path("admin/", admin.site.urls),
    path(
        "api/schema/",
        one_build_at_a_time(SpectacularAPIView.as_view()),
        name="schema",
    ),
    path(
        "api/docs/",
        self_contained(SpectacularSwaggerView.as_view(url_name="schema")),
        name="swagger-ui",
    ),
    path(
        "index.html",
        self_contained(SpectacularSwaggerView.as_view(url_name="schema")),
        name="index",
    ),
    path(
        "api/redoc/",
        self_contained(
            SpectacularRedocView.as_view(
                url_name="schema", template_name="api_docs/redoc.html"
            )
        ),
        name="redoc",
    ),
    path("", include("ingestion.urls")),
]

handler400 = api.bad_request
handler404 = api.not_found
handler500 = api.server_error
