from django.urls import path

from .views import ingest_view

urlpatterns = [
    path(f"{version}/{name}", ingest_view(version, name), name=f"{version}-{name}")
    for version in ("v2", "v3")
    for name in ("profiles", "events", "inventory")
]
