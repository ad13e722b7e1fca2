"""The OpenAPI description of the ingestion endpoints (documentation only: validation is
done by ingestion.validation against the customer's mappings)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import serializers

from datatalks.api import ERROR_ANSWERS, EnvelopeSerializer

from . import examples

_SCALAR_NOTE = "Values are scalars or arrays of scalars; nested objects are refused."


class IngestBodySerializer(serializers.Serializer):
    type = serializers.CharField(help_text="The name of one of your data point types.")
    groupKey = serializers.CharField(
        required=False,
        help_text="One of your group keys. Required in v2 (v1's `group_key` is accepted "
        "too); in v3 it defaults to your default group key.",
    )
    data = serializers.DictField(
        help_text="The fields of the data point, as mapped at onboarding. Unmapped "
        "fields are ignored. " + _SCALAR_NOTE
    )
    datatalksId = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="The data point's Datatalks ID, when known. With a different Hard-ID "
        "than stored, it changes the data point's Hard-ID.",
    )


def _responses(success_serializer, description: str) -> dict:
    """The 200 answer, and every error answer in the plain envelope."""
    responses = {200: OpenApiResponse(success_serializer, description=description)}
    for code, text in ERROR_ANSWERS.items():
        responses[code] = OpenApiResponse(EnvelopeSerializer, description=text)
    return responses


def ingest_operation(version: str, path_name: str) -> dict:
    """extend_schema arguments for one ingestion endpoint."""
    body = dict(examples.BY_PATH[path_name])
    if version == "v3":
        body.pop("groupKey")
    response_example = {
        "success": True,
        "messages": [],
        "requestId": "7f0a3c52-1f7e-4d37-9a5e-2b1c9e0d4a11",
        "datatalksId": "3b2f8c0e-5d7a-4f1e-9c3b-8a6d2e4f1b90",
        "key": "DTEXAMPLEKEY00000001",
    }
    error_example = {
        "success": False,
        "messages": ['data.email: "mma a@gma.com" is not a valid email address'],
        "requestId": "7f0a3c52-1f7e-4d37-9a5e-2b1c9e0d4a12",
        "datatalksId": None,
        "key": "DTEXAMPLEKEY00000001",
    }
    responses = _responses(EnvelopeSerializer, "Stored.")
    return {
        "operation_id": f"{version}_{path_name}_create",
        "summary": f"Send one {path_name.rstrip('s') if path_name != 'inventory' else 'inventory item'}",
        "tags": [path_name],
        "request": IngestBodySerializer,
        "responses": responses,
        "examples": [
            OpenApiExample("Reference example", value=body, request_only=True),
            OpenApiExample(
                "Stored",
                value=response_example,
                response_only=True,
                status_codes=["200"],
            ),
            OpenApiExample(
                "Invalid", value=error_example, response_only=True, status_codes=["400"]
            ),
        ],
    }


class BatchBodySerializer(serializers.Serializer):
    items = serializers.ListField(
        child=IngestBodySerializer(),
        min_length=1,
        help_text="Up to 1,000 single-item bodies (5 MiB in all); `groupKey` defaults "
        "as in v3. Each item is judged on its own.",
    )


class ItemResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    success = serializers.BooleanField()
    messages = serializers.ListField(child=serializers.CharField())
    datatalksId = serializers.UUIDField(allow_null=True)


class BatchEnvelopeSerializer(EnvelopeSerializer):
    results = ItemResultSerializer(many=True, help_text="One per item, in item order.")


def batch_operation(path_name: str) -> dict:
    """extend_schema arguments for one batch endpoint."""
    item = dict(examples.BY_PATH[path_name])
    item.pop("groupKey")
    responses = _responses(
        BatchEnvelopeSerializer,
        "Processed: `success` is true only if every item was stored.",
    )
    return {
        "operation_id": f"v3_{path_name}_batch",
        "summary": f"Send up to 1,000 {path_name} in one request",
        "tags": [path_name],
        "request": BatchBodySerializer,
        "responses": responses,
        "examples": [
            OpenApiExample(
                "Two items", value={"items": [item, item]}, request_only=True
            ),
        ],
    }


class SigV4Scheme(OpenApiAuthenticationExtension):
    """Describes AWS Signature V4 in the OpenAPI document."""

    target_class = "ingestion.auth.SigV4Authentication"
    name = "awsSigV4"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "AWS Signature Version 4 (`AWS4-HMAC-SHA256`), service `execute-api`, "
                "with the ACCESS_KEY_ID / SECRET_ACCESS_KEY pair Data Talks sent you. "
                "Sign with botocore's SigV4Auth, requests-aws4auth, curl --aws-sigv4 "
                "or Postman's AWS Signature auth."
            ),
        }


class SigV4FileScheme(SigV4Scheme):
    """The same signature for file uploads (the body's SHA-256 is signed too)."""

    target_class = "ingestion.auth.SigV4FileAuthentication"
    name = "awsSigV4File"
