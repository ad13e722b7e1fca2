"""The OpenAPI description of the file endpoints (documentation only)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from datatalks.api import EnvelopeSerializer

from .formats import XLSX_MEDIA_TYPE

_REQUEST_ID = "7f0a3c52-1f7e-4d37-9a5e-2b1c9e0d4a11"
_FILE_ID = "0b8e3f52-6c1d-4b7a-9e2f-5d4c3b2a1f09"
_KEY = "DTEXAMPLEKEY00000001"
_QUEUED = {
    "success": True,
    "messages": [],
    "requestId": _REQUEST_ID,
    "datatalksId": None,
    "key": _KEY,
    "fileId": _FILE_ID,
    "status": "queued",
}


class UploadEnvelopeSerializer(EnvelopeSerializer):
    fileId = serializers.UUIDField(help_text="Ask GET /v3/files/{fileId} about it.")
    status = serializers.ChoiceField(choices=["queued"])


class FileEnvelopeSerializer(EnvelopeSerializer):
    fileId = serializers.UUIDField()
    status = serializers.ChoiceField(choices=["queued", "processing", "done", "failed"])
    type = serializers.CharField()
    groupKey = serializers.CharField(allow_null=True)
    format = serializers.ChoiceField(choices=["csv", "jsonl", "xlsx"])
    size = serializers.IntegerField(help_text="Bytes.")
    rowsSeen = serializers.IntegerField(help_text="Rows read so far.")
    rowsAccepted = serializers.IntegerField(help_text="Rows stored.")
    rowsRejected = serializers.IntegerField(help_text="Rows in the errors list.")
    progress = serializers.FloatField(help_text="Percent of the file read, estimated.")
    failure = serializers.CharField(
        allow_null=True, help_text="Why a `failed` file could not be processed."
    )
    createdAt = serializers.DateTimeField()
    startedAt = serializers.DateTimeField(allow_null=True)
    finishedAt = serializers.DateTimeField(allow_null=True)


class RejectedRowSerializer(serializers.Serializer):
    row = serializers.IntegerField(
        help_text="The row as a spreadsheet numbers it (the header is row 1); in "
        "JSON lines, the line number."
    )
    hardId = serializers.CharField(
        allow_null=True, help_text="The row's Hard-ID as sent: `field=value, ...`."
    )
    messages = serializers.ListField(
        child=serializers.CharField(), help_text="Every problem, as the API words it."
    )


class ErrorsEnvelopeSerializer(EnvelopeSerializer):
    fileId = serializers.UUIDField()
    status = serializers.CharField()
    errors = RejectedRowSerializer(many=True, help_text="In row order.")


_FILE_ID_PARAMETER = OpenApiParameter(
    "file_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The fileId."
)
_COMMON = {
    403: OpenApiResponse(EnvelopeSerializer, description="Not signed, or refused."),
    404: OpenApiResponse(
        EnvelopeSerializer, description="No such file of yours (unknown or not yours)."
    ),
    429: OpenApiResponse(EnvelopeSerializer, description="Too many requests."),
}


def upload_operation(path_name: str) -> dict:
    """extend_schema arguments for one upload endpoint."""
    return {
        "operation_id": f"v3_files_{path_name}_upload",
        "summary": f"Upload a file of {path_name}",
        "description": (
            "The body is the file itself (at most `DATATALKS_FILE_MAX_BYTES`, 200 MB "
            "by default), signed like every call (its SHA-256 is part of the "
            "signature; `UNSIGNED-PAYLOAD` is refused) and sent with a "
            "`Content-Length`. CSV (header row of source field names, `,` or `;`, "
            "UTF-8 with or without BOM), JSON lines (one `data` object or one "
            "single-item body per line) or XLSX (the first sheet). Rows are processed "
            "in the background through the same checks as the batch endpoint; ask "
            "`GET /v3/files/{fileId}` how it is going. See docs/files.md."
        ),
        "tags": ["files"],
        "parameters": [
            OpenApiParameter(
                "type", str, required=True, description="One of your data point types."
            ),
            OpenApiParameter(
                "groupKey", str, description="One of your group keys; default: yours."
            ),
        ],
        "request": {
            "text/csv": OpenApiTypes.BINARY,
            "application/x-ndjson": OpenApiTypes.BINARY,
            XLSX_MEDIA_TYPE: OpenApiTypes.BINARY,
            "application/octet-stream": OpenApiTypes.BINARY,
        },
        "responses": {
            202: OpenApiResponse(UploadEnvelopeSerializer, description="Queued."),
            400: OpenApiResponse(
                EnvelopeSerializer,
                description="Unknown type or group key, an empty file, not UTF-8, a "
                "header without the Hard-ID columns.",
            ),
            411: OpenApiResponse(EnvelopeSerializer, description="No Content-Length."),
            413: OpenApiResponse(EnvelopeSerializer, description="Over the limit."),
            415: OpenApiResponse(
                EnvelopeSerializer,
                description="Not CSV, JSON lines or XLSX, or not the declared type.",
            ),
            **_COMMON,
        },
        "examples": [
            OpenApiExample(
                "Queued",
                value=_QUEUED,
                response_only=True,
                status_codes=["202"],
            )
        ],
    }


def status_operation() -> dict:
    return {
        "operation_id": "v3_files_retrieve",
        "summary": "How a file's processing is going",
        "tags": ["files"],
        "parameters": [_FILE_ID_PARAMETER],
        "responses": {
            200: OpenApiResponse(FileEnvelopeSerializer, description="The file."),
            **_COMMON,
        },
    }


def errors_operation() -> dict:
    return {
        "operation_id": "v3_files_errors",
        "summary": "Every rejected row of a file",
        "description": "JSON by default; `?format=csv` answers text/csv with the "
        "columns row, hardId, messages (joined by `; `).",
        "tags": ["files"],
        "parameters": [
            _FILE_ID_PARAMETER,
            OpenApiParameter("format", str, enum=["json", "csv"], default="json"),
        ],
        "responses": {
            (200, "application/json"): OpenApiResponse(ErrorsEnvelopeSerializer),
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR, description="row,hardId,messages"
            ),
            400: OpenApiResponse(EnvelopeSerializer, description="Unknown format."),
            **_COMMON,
        },
    }
