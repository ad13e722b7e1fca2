"""The OpenAPI description of a person's data on request (documentation only)."""

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from datatalks.api import ERROR_ANSWERS, EnvelopeSerializer

_ID = OpenApiParameter(
    "datatalksId",
    OpenApiTypes.UUID,
    OpenApiParameter.PATH,
    description="The profile's Datatalks ID.",
)
# What these endpoints can answer besides 200, in both documents: they read no body.
ERRORS = {code: ERROR_ANSWERS[code] for code in (400, 403, 406, 429, 500, 503)} | {
    400: "Not a Datatalks ID (a UUID), or a `suppress` other than true or false.",
    404: "Not one of your profiles (unknown, another customer's, or not a profile).",
}
_COMMON = {
    code: OpenApiResponse(EnvelopeSerializer, description=text)
    for code, text in sorted(ERRORS.items())
}
ERASE_TEXT = (
    "Erases the profile's values, its secondary ids and the values of the events "
    "linked to it; cancels whatever of it is still to be sent; and deletes its "
    "contact in every Salesmanago account it was sent to (through the outbox, retried "
    "until Salesmanago answers). The Datatalks ID, counts and the request log without "
    "values remain (docs/privacy.md). Erasing again answers 200 and does nothing "
    "more. With `suppress=true`, later data with the same Hard-ID or any of its "
    "secondary ids is refused with a 400 until Data Talks staff lift it."
)
EXPORT_TEXT = (
    "Everything stored for the profile: its values, secondary ids, linked events "
    "(id, type, values; the newest 10,000, with `eventsTotal`) and, per Salesmanago "
    "account, whether and when it was sent and when its contact was erased there."
)


class SecondaryIdSerializer(serializers.Serializer):
    kind = serializers.CharField()
    value = serializers.CharField()


class EventSerializer(serializers.Serializer):
    datatalksId = serializers.UUIDField()
    type = serializers.CharField()
    createdAt = serializers.DateTimeField()
    values = serializers.DictField()


class AccountSentSerializer(serializers.Serializer):
    clientId = serializers.CharField()
    environment = serializers.CharField()
    sent = serializers.BooleanField()
    sentAt = serializers.DateTimeField(allow_null=True)
    erasedAt = serializers.DateTimeField(allow_null=True)


class ProfileSerializer(serializers.Serializer):
    type = serializers.CharField()
    groupKey = serializers.CharField()
    createdAt = serializers.DateTimeField()
    updatedAt = serializers.DateTimeField()
    erasedAt = serializers.DateTimeField(allow_null=True)
    values = serializers.DictField()
    secondaryIds = SecondaryIdSerializer(many=True)
    eventsTotal = serializers.IntegerField()
    events = EventSerializer(many=True)
    salesmanago = AccountSentSerializer(many=True)


class ExportEnvelopeSerializer(EnvelopeSerializer):
    profile = ProfileSerializer()


def _profile_operation(operation_id, summary, description, answer, *parameters):
    """An operation on /v3/profiles/{datatalksId}: its 200 ``answer`` and the errors
    both operations share."""
    return {
        "operation_id": operation_id,
        "summary": summary,
        "description": description,
        "tags": ["profiles"],
        "parameters": [_ID, *parameters],
        "responses": {200: answer, **_COMMON},
    }


def export_operation() -> dict:
    return _profile_operation(
        "v3_profiles_retrieve",
        "Everything stored for a person (access request)",
        EXPORT_TEXT,
        OpenApiResponse(ExportEnvelopeSerializer, description="The profile."),
    )


def erase_operation() -> dict:
    suppress = OpenApiParameter(
        "suppress",
        OpenApiTypes.BOOL,
        description="`true`: refuse later data of this person.",
    )
    erased = OpenApiResponse(
        EnvelopeSerializer, description="Erased; `datatalksId` is the id."
    )
    return _profile_operation(
        "v3_profiles_erase",
        "Erase a person (erasure request)",
        ERASE_TEXT,
        erased,
        suppress,
    )


def customer_profile_paths(envelope_ref: str) -> dict[str, Any]:
    """The two operations in a customer's own OpenAPI document."""
    answer = {"application/json": {"schema": {"$ref": envelope_ref}}}
    errors = {
        str(code): {"description": text, "content": answer}
        for code, text in sorted(ERRORS.items())
    }
    parameter = {
        "name": "datatalksId",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "format": "uuid"},
    }
    suppress = {
        "name": "suppress",
        "in": "query",
        "required": False,
        "schema": {"type": "boolean"},
        "description": "`true`: refuse later data of this person.",
    }
    return {
        "parameters": [parameter],
        "get": {
            "operationId": "v3_profiles_retrieve",
            "summary": "Everything stored for a person (access request)",
            "description": EXPORT_TEXT + " The answer adds `profile` to the envelope.",
            "tags": ["profiles"],
            "responses": {
                "200": {"description": "The profile.", "content": answer},
                **errors,
            },
        },
        "delete": {
            "operationId": "v3_profiles_erase",
            "summary": "Erase a person (erasure request)",
            "description": ERASE_TEXT,
            "tags": ["profiles"],
            "parameters": [suppress],
            "responses": {
                "200": {"description": "Erased.", "content": answer},
                **errors,
            },
        },
    }
