"""The onboarding pages of the admin: import a sample, apply a template, try a payload,
download a customer's API documents. mappings/admin.py wires them into its ModelAdmins.
"""

import io
import json
import uuid
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from rest_framework.exceptions import ParseError

from datatalks.api import envelope, exception_handler
from datatalks.errors import ApiError
from ingestion.caller import ApiCaller
from ingestion.customer_schema import (
    customer_json_schema,
    customer_openapi,
    example_body,
)
from ingestion.models import ApiCredential, DataPoint
from ingestion.parsers import ApiJSONParser
from ingestion.services import datapoint_try
from ingestion.validation import CATEGORY_OF_PATH

from . import importing
from .admin_forms import (
    PATH_OF_CATEGORY,
    ActivateForm,
    NewTypeForm,
    ProposalFormSet,
    TryPayloadForm,
    UploadForm,
    profile_hard_ids,
)
from .models import Category, Customer, DataPointType
from .onboarding_templates import TEMPLATES, template_apply, template_preview
from .spec import spec_for_customer
from .versions import mapping_fields_add

PREFIX = "fields"


def _render(model_admin, request, template: str, **context) -> TemplateResponse:
    return TemplateResponse(
        request,
        f"admin/mappings/{template}",
        {
            **model_admin.admin_site.each_context(request),
            "opts": model_admin.model._meta,
            **context,
        },
    )


# Import a sample ---------------------------------------------------------------------


def import_view(model_admin, request, object_id=None):
    """Upload a sample, review the proposed fields, save them: three steps, one URL.

    Nothing is written before the review is confirmed; the file is read once and not
    kept (the proposal travels in the review form).
    """
    dpt = None
    if object_id is not None:
        dpt = get_object_or_404(DataPointType, pk=object_id)
        if not model_admin.has_change_permission(request, dpt):
            raise PermissionDenied
    elif not model_admin.has_add_permission(request):
        raise PermissionDenied
    if request.method != "POST":
        new_form = NewTypeForm(initial=request.GET.dict()) if dpt is None else None
        return _upload_page(model_admin, request, dpt, UploadForm(), new_form)
    if request.POST.get("step") == "save":
        return _import_save(model_admin, request, dpt)
    return _import_read(model_admin, request, dpt)


def _upload_page(model_admin, request, dpt, upload, new_form):
    title = f"Import a sample into {dpt.name}" if dpt else "Create a type from a sample"
    return _render(
        model_admin, request, "import_upload.html", title=title, original=dpt,
        upload=upload, new_form=new_form,
    )  # fmt: skip


def _import_read(model_admin, request, dpt):
    new_form = NewTypeForm(request.POST) if dpt is None else None
    upload = UploadForm(request.POST, request.FILES)
    if not upload.is_valid() or (new_form and not new_form.is_valid()):
        return _upload_page(model_admin, request, dpt, upload, new_form)
    owner = dpt or new_form.save(commit=False)
    try:
        sample = _read(upload.cleaned_data["sample"])
    except importing.SampleError as exc:
        upload.add_error("sample", str(exc))
        return _upload_page(model_admin, request, dpt, upload, new_form)
    existing = list(dpt.fields.all()) if dpt else []
    initial = _proposal_initial(owner, sample, existing)
    formset = ProposalFormSet(
        initial=initial, prefix=PREFIX, existing=existing,
        form_kwargs={"data_point_type": owner},
    )  # fmt: skip
    has_hard_id = any(row["hard_id"] for row in initial) or any(
        f.hard_id for f in existing
    )
    activate = ActivateForm(initial={"activate": has_hard_id or owner.active})
    return _review_page(
        model_admin, request, dpt, owner, formset, activate, new_form, sample
    )


def _read(upload) -> importing.Sample:
    importing.sample_size_check(size=upload.size, limit=importing.max_upload_bytes())
    return importing.sample_read(name=upload.name, data=upload.read())


def _proposal_initial(owner, sample, existing) -> list[dict]:
    targets = {}
    if owner.category == Category.EVENT:
        targets = {f.source_field: f for f in profile_hard_ids(owner.customer_id)}
    proposals = importing.fields_propose(
        sample, category=owner.category, avoid_hard_id=frozenset(targets)
    )
    mapped = {f.source_field for f in existing}
    rows = []
    for p in proposals:
        target = targets.get(p.source_field)
        note = "Already mapped: skipped." if p.source_field in mapped else p.note
        rows.append(
            {
                "source_field": p.source_field, "cdp_field": p.cdp_field,
                "data_type": p.data_type, "format": p.format, "optional": p.optional,
                "hard_id": p.hard_id, "secondary_id": p.secondary_id,
                "references": target.pk if target and target.data_type == p.data_type else None,
                "examples": json.dumps(p.examples, ensure_ascii=False), "note": note,
                "DELETE": p.source_field in mapped,
            }
        )  # fmt: skip
    return rows


def _review_page(model_admin, request, dpt, owner, formset, activate, new_form, sample):
    title = f"Review the fields for {owner.name or 'the new type'}"
    return _render(
        model_admin, request, "import_review.html", title=title, original=dpt,
        owner=owner, formset=formset, activate=activate, new_form=new_form,
        sample=sample, is_event=owner.category == Category.EVENT,
    )  # fmt: skip


def _import_save(model_admin, request, dpt):
    new_form = NewTypeForm(request.POST) if dpt is None else None
    owner = dpt
    if new_form is not None:
        owner = new_form.save(commit=False) if new_form.is_valid() else DataPointType()
    existing = list(dpt.fields.all()) if dpt else []
    formset = ProposalFormSet(
        request.POST, prefix=PREFIX, existing=existing,
        form_kwargs={"data_point_type": owner},
    )  # fmt: skip
    activate = ActivateForm(request.POST)
    activate.is_valid()
    formset.require_hard_id = activate.cleaned_data["activate"]
    if not formset.is_valid() or (new_form is not None and not new_form.is_valid()):
        return _review_page(
            model_admin, request, dpt, owner, formset, activate, new_form, None
        )
    with transaction.atomic():
        if dpt is None:
            owner.version = 0  # no mapping saved yet: the first save is version 1
            owner.save()
        version = mapping_fields_add(
            data_point_type=owner,
            fields=[form.save(commit=False) for form in formset.kept()],
            user=request.user,
            activate=formset.require_hard_id,
        )
    text = f"Saved {len(formset.kept())} fields from the sample as version {version.version}."
    log = model_admin.log_addition if dpt is None else model_admin.log_change
    log(request, owner, text)
    messages.success(request, f"{owner.name}: {text}")
    return redirect(reverse("admin:mappings_datapointtype_change", args=[owner.pk]))


# Templates ---------------------------------------------------------------------------


def template_view(model_admin, request, object_id, key):
    """Shows what a template adds to the customer; applies it on confirmation."""
    customer = get_object_or_404(Customer, pk=object_id)
    if key not in TEMPLATES:
        raise Http404("No such template.")
    if not model_admin.has_change_permission(request, customer):
        raise PermissionDenied
    if request.method == "POST":
        result = template_apply(customer=customer, key=key, user=request.user)
        messages.success(request, template_message(customer, result))
        return redirect(reverse("admin:mappings_customer_change", args=[customer.pk]))
    preview = template_preview(customer=customer, key=key)
    rows = [
        {
            "type": t,
            "created": t.name in preview.created_types,
            "fields": preview.added_fields.get(t.name, []),
        }
        for t in preview.template.types
    ]
    return _render(
        model_admin, request, "template_confirm.html", original=customer,
        title=f"Apply the {preview.template.label} template to {customer.name}",
        preview=preview, rows=rows,
    )  # fmt: skip


def template_message(customer, result) -> str:
    """One line saying what applying a template did."""
    label = f"{result.template.label} template"
    if not result.changed:
        return f"{customer.name} already has every type and field of the {label}."
    parts = []
    if result.created_types:
        parts.append("created " + ", ".join(result.created_types))
    updated = [t for t in result.added_fields if t not in result.created_types]
    if updated:
        parts.append("added fields to " + ", ".join(updated))
    if result.group_key_created:
        parts.append("created the default group key main_group")
    skipped = f" Skipped: {' '.join(result.skipped)}" if result.skipped else ""
    return f"{label} applied to {customer.name}: {'; '.join(parts)}.{skipped}"


# Try a payload -----------------------------------------------------------------------


def try_view(model_admin, request):
    """Paste a body, see the API's answer, the stored values and the Salesmanago items."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    data = request.POST if request.method == "POST" else None
    form = TryPayloadForm(data, initial=_try_initial(request.GET))
    outcome = None
    if data is not None and form.is_valid():
        outcome = payload_judge(**form.cleaned_data)
    return _render(
        model_admin, request, "try_payload.html", title="Try a payload", form=form,
        outcome=outcome, shown=_shown(outcome),
    )  # fmt: skip


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
    *, customer, endpoint: str, environment: str, body: str
) -> TryOutcome:
    """Judges a body as ``POST /<endpoint>`` with the customer's key would be judged.

    The body goes through the API's own parser, datapoint_try (the ingest path, rolled
    back) and the API's exception handler, so status and envelope are the API's.
    """
    version, path_name = endpoint.split("/")
    key = (
        ApiCredential.objects.filter(
            customer=customer, environment=environment, active=True
        )
        .order_by("-created_at")
        .values_list("access_key_id", flat=True)
        .first()
    )
    caller = ApiCaller(
        customer=customer, environment=environment, access_key_id=key or ""
    )
    request = SimpleNamespace(
        caller=caller if key else None, request_id=str(uuid.uuid4())
    )
    warnings = _try_warnings(customer, environment, key)
    try:
        parsed = ApiJSONParser().parse(io.BytesIO(body.encode("utf-8")))
        result = datapoint_try(
            caller=caller, category=CATEGORY_OF_PATH[path_name], version=version,
            body=parsed,
        )  # fmt: skip
    except (ParseError, ApiError) as exc:
        response = exception_handler(exc, {"request": request})
        return TryOutcome(response.status_code, response.data, warnings=warnings)
    answer = envelope(
        request, success=True, messages=[], datatalks_id=result.datatalks_id
    )
    existing = DataPoint.objects.filter(pk=result.datatalks_id).exists()
    return TryOutcome(
        200, answer, result.stored, result.salesmanago, existing, warnings
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
    dump = lambda value: json.dumps(  # noqa: E731
        value, indent=2, ensure_ascii=False, cls=DjangoJSONEncoder
    )
    return {
        "envelope": dump(outcome.envelope),
        "stored": dump(outcome.stored) if outcome.stored is not None else "",
        "salesmanago": dump(outcome.salesmanago) if outcome.salesmanago else "",
    }


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
