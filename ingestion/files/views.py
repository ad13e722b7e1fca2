"""``/v3/files/...``: upload a file, ask how it is going, list its rejected rows."""

import csv
import io
import json
from collections.abc import Iterator

from django.http import StreamingHttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import Throttled
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response

from datatalks.errors import PayloadInvalid
from ingestion.apiview import NOT_JUDGED, ApiView, documented_post
from ingestion.auth import SigV4FileAuthentication
from ingestion.models import FileUpload
from mappings.categories import CATEGORY_OF_PATH

from . import schema
from .receiving import FileBodyParser, file_discard
from .selectors import file_for_caller, rejected_rows
from .services import file_accept

ERROR_COLUMNS = ["row", "hardId", "messages"]


class FileUploadView(ApiView):
    """``POST /v3/files/{profiles,events,inventory}?type=&groupKey=``: 202 and a fileId."""

    authentication_classes = [SigV4FileAuthentication]
    parser_classes = [FileBodyParser]
    path_name = "profiles"

    def check_throttles(self, request):
        try:
            super().check_throttles(request)
        except Throttled:
            # Authentication stored the body to check its signature: it goes.
            file_discard(request.data)
            raise

    def upload(self, request):
        upload = file_accept(
            caller=request.user,
            category=CATEGORY_OF_PATH[self.path_name],
            type_name=request.query_params.get("type"),
            group_key=request.query_params.get("groupKey"),
            received=request.data,
        )
        body = self.envelope(success=True, messages=[])
        body.update(fileId=str(upload.pk), status=upload.status)
        response = Response(body, status=202)
        self.log(response, NOT_JUDGED)
        return response


def upload_view(path_name: str):
    """The upload view for one category, with its own OpenAPI description."""
    return documented_post(
        FileUploadView,
        f"{path_name.title()}FileUploadView",
        schema.upload_operation(path_name),
        "upload",
        path_name=path_name,
    )


class FileView(ApiView):
    """``GET /v3/files/{fileId}``: the file's status and counts."""

    @extend_schema(**schema.status_operation())
    def get(self, request, file_id):
        upload = file_for_caller(caller=request.user, file_id=file_id)
        body = self.envelope(success=True, messages=[])
        body.update(file_summary(upload))
        return self.answer(body)


class _FormatIsOurs(DefaultContentNegotiation):
    """``?format=`` picks the errors list's format here, not a DRF renderer."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class FileErrorsView(ApiView):
    """``GET /v3/files/{fileId}/errors``: every rejected row, JSON or ``?format=csv``.

    Streamed, so a file with a million rejected rows is answered in flat memory.
    """

    content_negotiation_class = _FormatIsOurs

    @extend_schema(**schema.errors_operation())
    def get(self, request, file_id):
        wanted = request.query_params.get("format", "json")
        if wanted not in ("json", "csv"):
            raise PayloadInvalid(f"format: {wanted!r} is not json or csv")
        upload = file_for_caller(caller=request.user, file_id=file_id)
        head = self.envelope(success=True, messages=[])
        head.update(fileId=str(upload.pk), status=upload.status)
        self.log(Response(head), NOT_JUDGED)  # the list itself is streamed
        if wanted == "csv":
            response = StreamingHttpResponse(
                errors_csv(upload), content_type="text/csv; charset=utf-8"
            )
            response["Content-Disposition"] = (
                f'attachment; filename="{upload.pk}-errors.csv"'
            )
            return response
        return StreamingHttpResponse(
            _errors_json(head, upload), content_type="application/json"
        )


def file_summary(upload: FileUpload) -> dict:
    """The file's state as the API answers it."""
    return {
        "fileId": str(upload.pk),
        "status": upload.status,
        "type": upload.type_name,
        "groupKey": upload.group_key or None,
        "format": upload.format,
        "size": upload.size,
        "rowsSeen": upload.rows_seen,
        "rowsAccepted": upload.rows_accepted,
        "rowsRejected": upload.rows_rejected,
        "progress": round(upload.progress * 100, 1),
        "failure": upload.failure or None,
        "createdAt": _time(upload.created_at),
        "startedAt": _time(upload.started_at),
        "finishedAt": _time(upload.finished_at),
    }


def _time(moment) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def _errors_json(head: dict, upload: FileUpload) -> Iterator[str]:
    yield json.dumps(head)[:-1] + ', "errors": ['
    separator = ""
    for rejected in rejected_rows(upload=upload):
        item = {"row": rejected.row, "hardId": rejected.hard_id or None}
        item["messages"] = rejected.messages
        yield separator + json.dumps(item, ensure_ascii=False)
        separator = ", "
    yield "]}"


def errors_csv(upload: FileUpload) -> Iterator[str]:
    """The rejected rows as CSV (row, hardId, messages joined by "; ")."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(ERROR_COLUMNS)
    for rejected in rejected_rows(upload=upload):
        writer.writerow(
            [rejected.row, _cell(rejected.hard_id), _cell("; ".join(rejected.messages))]
        )
        if buffer.tell() > 65536:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _cell(text: str) -> str:
    # A spreadsheet would run a cell starting with = + - @ as a formula.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
