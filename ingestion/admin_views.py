"""The admin pages that run the API's own code: try a payload, and a customer's API
documents. ingestion/admin.py adds them to the customer's admin."""

import io
import json
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from rest_framework.exceptions import ParseError

from datatalks.api import envelope, error_answer
from datatalks.errors import ApiError
from integrations.routing import delivery_gaps
from mappings.admin_views import admin_page
from mappings.categories import CATEGORY_OF_PATH, PATH_OF_CATEGORY
from mappings.models import Customer, DataPointType
from mappings.spec import spec_for_customer

from .admin_forms import TryPayloadForm
from .caller import ApiCaller
from .customer_schema import customer_json_schema, customer_openapi, example_body
from .health import customer_health
from .health_charts import bar_chart
from .models import ApiCredential, DataPoint
from .parsers import ApiJSONParser
from .services import datapoint_try

# Try a payload -----------------------------------------------------------------------


def try_view(model_admin, request):
    """Paste a body, see the API's answer, the stored values and the Salesmanago items."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    data = request.POST if request.method == "POST" else None
    form = TryPayloadForm(data, initial=_try_initial(request.GET))
    outcome = None
    if data is not None and form.is_valid():
        outcome = payload_judge(request=request, **form.cleaned_data)
        if outcome.status == 200:
            # The onboarding checklist's "a payload tried" step: the first accepted one.
            Customer.objects.filter(
                pk=form.cleaned_data["customer"].pk, payload_tried_at__isnull=True
            ).update(payload_tried_at=timezone.now())
    return admin_page(
        model_admin,
        request,
        "admin/ingestion/try_payload.html",
        title="Try a payload",
        form=form,
        outcome=outcome,
        shown=_shown(outcome),
    )


@dataclass
class TryOutcome:
    """What the API would answer, store and send for one pasted body."""

    status: int
    envelope: dict[str, Any]
    stored: dict[str, Any] | None = None
    salesmanago: list[dict] = field(default_factory=list)
    existing: bool = False
    warnings: list[str] = field(default_factory=list)


def payload_judge(
    *, request, customer, endpoint: str, environment: str, body: str
) -> TryOutcome:
    """Judges a body as ``POST /<endpoint>`` with the customer's key would be judged.

    The body goes through the API's own parser, datapoint_try (the ingest path, rolled
    back) and the API's error answers, so status and envelope are the API's; the
    envelope's requestId is the admin page's own.
    """
    version, path_name = endpoint.split("/")
    key = _active_key(customer, environment)
    caller = ApiCaller(
        customer=customer, environment=environment, access_key_id=key or ""
    )
    warnings = _try_warnings(customer, environment, key)
    try:
        parsed = ApiJSONParser().parse(io.BytesIO(body.encode("utf-8")))
        result = datapoint_try(
            caller=caller,
            category=CATEGORY_OF_PATH[path_name],
            version=version,
            body=parsed,
        )
    except (ParseError, ApiError) as exc:
        status, messages, _ = error_answer(exc)
        answer = envelope(request, success=False, messages=messages, key=key)
        return TryOutcome(status, answer, warnings=warnings)
    answer = envelope(
        request, success=True, messages=[], datatalks_id=result.datatalks_id, key=key
    )
    existing = DataPoint.objects.filter(pk=result.datatalks_id).exists()
    warnings += _unsent(customer, environment, parsed)
    return TryOutcome(
        200, answer, result.stored, result.salesmanago, existing, warnings
    )


def _active_key(customer, environment: str) -> str | None:
    """The customer's newest active key there: the one a real request would use."""
    return (
        ApiCredential.objects.filter(
            customer=customer, environment=environment, active=True
        )
        .order_by("-created_at")
        .values_list("access_key_id", flat=True)
        .first()
    )


def _try_warnings(customer, environment: str, key: str | None) -> list[str]:
    if not customer.active:
        return [
            f"{customer.name} is inactive: the API refuses its keys (403) before it "
            "reads a body."
        ]
    if key is None:
        return [
            f"{customer.name} has no active {environment} key, so a real request "
            "would be refused (403); create one under Ingestion → API credentials."
        ]
    return []


def _unsent(customer, environment: str, body: dict) -> list[str]:
    """What keeps this accepted payload from reaching Salesmanago, if anything."""
    spec = spec_for_customer(customer=customer)
    type_spec = spec.types[body["type"]]
    group_key = body.get("groupKey") or spec.default_group_key
    return delivery_gaps(
        customer=customer,
        environment=environment,
        type_ids=[type_spec.id],
        group_key_ids=[spec.group_keys[group_key]],
    )


def _try_initial(params) -> dict:
    """Customer, endpoint and an example body, from ``?type=<id>`` or ``?customer=``."""
    dpt = DataPointType.objects.filter(pk=_int(params.get("type"))).first()
    if dpt is None:
        return {"customer": _int(params.get("customer"))}
    spec = spec_for_customer(customer=dpt.customer)
    body = example_body(spec.types[dpt.name], spec)
    return {
        "customer": dpt.customer_id,
        "endpoint": f"v2/{PATH_OF_CATEGORY[dpt.category]}",
        "body": json.dumps(body, indent=2, ensure_ascii=False),
    }


def _int(value) -> int | None:
    return int(value) if value and str(value).isdigit() else None


def _shown(outcome) -> dict[str, str]:
    if outcome is None:
        return {}
    return {
        "envelope": _dump(outcome.envelope),
        "stored": _dump(outcome.stored) if outcome.stored is not None else "",
        "salesmanago": _dump(outcome.salesmanago) if outcome.salesmanago else "",
    }


def _dump(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, cls=DjangoJSONEncoder)


# Data health --------------------------------------------------------------------------


def health_view(model_admin, request, object_id):
    """The customer's data health: requests per type over 24 hours and 30 days, the top
    rejection messages, and each Salesmanago account's lag and open deliveries."""
    customer = get_object_or_404(Customer, pk=object_id)
    if not model_admin.has_view_permission(request, customer):
        raise PermissionDenied
    health = customer_health(customer=customer)
    charts = [
        {
            "series": s,
            "hours": bar_chart(s.hours, label=f"{s.type_name}, 24 hours", fmt="%H:00"),
            "days": bar_chart(s.days, label=f"{s.type_name}, 30 days", fmt="%Y-%m-%d"),
        }
        for s in health.series
    ]
    return admin_page(
        model_admin,
        request,
        "admin/ingestion/health.html",
        title=f"Data health of {customer.name}",
        original=customer,
        health=health,
        charts=charts,
        gaps=delivery_gaps(customer=customer),
    )


# API documents -----------------------------------------------------------------------


def schema_download(model_admin, request, object_id, document):
    """The customer's OpenAPI document or JSON Schema, as a file."""
    customer = get_object_or_404(Customer, pk=object_id)
    if not model_admin.has_view_permission(request, customer):
        raise PermissionDenied
    if document == "openapi":
        server = request.build_absolute_uri("/").rstrip("/")
        content = customer_openapi(customer=customer, server_url=server)
    else:
        content = customer_json_schema(customer=customer)
    response = JsonResponse(content, json_dumps_params={"indent": 2})
    filename = f"{customer.slug}-{document}.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
