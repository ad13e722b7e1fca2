from django.urls import path

from mappings.categories import PATH_OF_CATEGORY

from .files.views import FileErrorsView, FileView, upload_view
from .metrics_views import MetricsView
from .privacy.views import ProfileView
from .schema_views import CustomerSchemaView
from .views import batch_view, ingest_view

CATEGORY_PATHS = tuple(PATH_OF_CATEGORY.values())

urlpatterns = [
    path(f"{version}/{name}", ingest_view(version, name), name=f"{version}-{name}")
    for version in ("v2", "v3")
    for name in CATEGORY_PATHS
] + [
    path(f"v3/{name}/batch", batch_view(name), name=f"v3-{name}-batch")
    for name in CATEGORY_PATHS
]
urlpatterns += [path("v3/schema", CustomerSchemaView.as_view(), name="v3-schema")]
urlpatterns += [path("metrics", MetricsView.as_view(), name="metrics")]
urlpatterns += [
    path(f"v3/files/{name}", upload_view(name), name=f"v3-files-{name}")
    for name in CATEGORY_PATHS
] + [
    path("v3/files/<str:file_id>", FileView.as_view(), name="v3-file"),
    path(
        "v3/files/<str:file_id>/errors", FileErrorsView.as_view(), name="v3-file-errors"
    ),
]
# After /v3/profiles/batch, which is not a Datatalks ID.
urlpatterns += [
    path("v3/profiles/<str:datatalksId>", ProfileView.as_view(), name="v3-profile")
]
