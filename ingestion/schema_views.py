"""``GET /v3/schema``: the calling customer's own API document, from its mappings."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema

from datatalks.api import EnvelopeSerializer
from datatalks.errors import PayloadInvalid

from .apiview import ApiView
from .customer_schema import customer_json_schema, customer_openapi

DOCUMENTS = ("openapi", "json-schema")


class CustomerSchemaView(ApiView):
    """Answers a signed request with the caller's document, and only the caller's:
    the customer comes from the key that signed it, never from the request."""

    @extend_schema(
        operation_id="v3_schema_retrieve",
        summary="Your API document, generated from your mappings",
        description="The OpenAPI 3.1 document (default) or JSON Schema of your own "
        "data point types: their fields, data types, formats and required fields. "
        "It changes when your mapping changes.",
        tags=["schema"],
        parameters=[
            OpenApiParameter(
                "document",
                str,
                enum=list(DOCUMENTS),
                default="openapi",
                description="`openapi` or `json-schema`.",
            )
        ],
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, description="The document."),
            400: OpenApiResponse(EnvelopeSerializer, description="Unknown document."),
            403: OpenApiResponse(EnvelopeSerializer, description="Not signed."),
        },
    )
    def get(self, request):
        document = request.query_params.get("document", "openapi")
        if document not in DOCUMENTS:
            raise PayloadInvalid(
                f"document: {document!r} is not one of {', '.join(DOCUMENTS)}"
            )
        customer = request.user.customer
        if document == "json-schema":
            return self.answer(customer_json_schema(customer=customer))
        server = request.build_absolute_uri("/").rstrip("/")
        return self.answer(customer_openapi(customer=customer, server_url=server))
