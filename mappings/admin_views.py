"""The onboarding pages of the admin: import a sample, apply a template.
mappings/admin.py wires them into its ModelAdmins (the pages that run the API's code,
try a payload and the API documents, are in ingestion/admin_views.py)."""

import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse

from . import importing
from .admin_forms import (
    ActivateForm,
    NewTypeForm,
    ProposalFormSet,
    UploadForm,
    profile_hard_ids,
)
from .models import Category, Customer, DataPointType
from .onboarding_templates import TEMPLATES, template_apply, template_preview
from .versions import mapping_fields_add

PREFIX = "fields"


def admin_page(model_admin, request, template: str, **context) -> TemplateResponse:
    """An onboarding page in the admin's frame, for ``model_admin``'s model."""
    return TemplateResponse(
        request,
        template,
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
    return admin_page(
        model_admin,
        request,
        "admin/mappings/import_upload.html",
        title=title,
        original=dpt,
        upload=upload,
        new_form=new_form,
    )


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
        initial=initial,
        prefix=PREFIX,
        existing=existing,
        form_kwargs={"data_point_type": owner},
    )
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
                "source_field": p.source_field,
                "cdp_field": p.cdp_field,
                "data_type": p.data_type,
                "format": p.format,
                "optional": p.optional,
                "hard_id": p.hard_id,
                "secondary_id": p.secondary_id,
                "references": target.pk
                if target and target.data_type == p.data_type
                else None,
                "examples": json.dumps(p.examples, ensure_ascii=False),
                "note": note,
                "DELETE": p.source_field in mapped,
            }
        )
    return rows


def _review_page(model_admin, request, dpt, owner, formset, activate, new_form, sample):
    title = f"Review the fields for {owner.name or 'the new type'}"
    return admin_page(
        model_admin,
        request,
        "admin/mappings/import_review.html",
        title=title,
        original=dpt,
        owner=owner,
        formset=formset,
        activate=activate,
        new_form=new_form,
        sample=sample,
        is_event=owner.category == Category.EVENT,
    )


def _import_save(model_admin, request, dpt):
    new_form = NewTypeForm(request.POST) if dpt is None else None
    owner = dpt
    if new_form is not None:
        owner = new_form.save(commit=False) if new_form.is_valid() else DataPointType()
    existing = list(dpt.fields.all()) if dpt else []
    formset = ProposalFormSet(
        request.POST,
        prefix=PREFIX,
        existing=existing,
        form_kwargs={"data_point_type": owner},
    )
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
    return admin_page(
        model_admin,
        request,
        "admin/mappings/template_confirm.html",
        original=customer,
        title=f"Apply the {preview.template.label} template to {customer.name}",
        preview=preview,
        rows=rows,
    )


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
