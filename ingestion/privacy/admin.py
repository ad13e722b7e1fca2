"""The admin of a person's data on request: Erase (with a reason) and Export on a data
point's page, the erasure log (read by support, changed by no one), suppressions that
staff can lift, and each customer's retention periods."""

import json

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from datatalks.admin_display import badge, column, short_id, when
from datatalks.admin_pages import OwnPagesMixin
from datatalks.admin_readonly import ReadOnlyAdminMixin
from integrations.models import Delivery, DeliveryKind
from mappings.models import Category

from ..models import DataPoint
from .models import ErasureLog, RetentionPeriods, Suppression, Via
from .selectors import profile_export
from .services import profile_erase, suppressions_lift

ERASE_PERMISSION = "ingestion.erase_datapoint"


class EraseForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=2000,
        help_text="Why (the request's reference, who asked): kept in the erasure log.",
    )
    suppress = forms.BooleanField(
        required=False,
        help_text="Refuse later data with this Hard-ID or any of its secondary ids.",
    )


class DataPointPrivacyMixin(OwnPagesMixin):
    """Adds Export and Erase to a data point's page (profiles only)."""

    change_form_template = "admin/ingestion/datapoint/change_form.html"

    pages = [
        ("<uuid:object_id>/erase/", "erase_view", "erase"),
        ("<uuid:object_id>/export/", "export_view", "export"),
    ]

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        if obj is not None:
            context["is_profile"] = obj.data_point_type.category == Category.PROFILE
            context["can_erase"] = request.user.has_perm(ERASE_PERMISSION)
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)

    def _profile(self, request, object_id) -> DataPoint:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(
            DataPoint.objects.select_related("customer", "data_point_type"),
            pk=object_id,
            data_point_type__category=Category.PROFILE,
        )

    def export_view(self, request, object_id):
        profile = self._profile(request, object_id)
        exported = profile_export(
            customer=profile.customer,
            environment=profile.environment,
            datatalks_id=profile.pk,
        )
        text = json.dumps(
            {"datatalksId": str(profile.pk), "profile": exported},
            cls=DjangoJSONEncoder,
            ensure_ascii=False,
            indent=2,
        )
        response = HttpResponse(text, content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="{profile.pk}.json"'
        return response

    def erase_view(self, request, object_id):
        profile = self._profile(request, object_id)
        if not request.user.has_perm(ERASE_PERMISSION):
            raise PermissionDenied
        form = EraseForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            erasure = profile_erase(
                customer=profile.customer,
                environment=profile.environment,
                datatalks_id=profile.pk,
                suppress=form.cleaned_data["suppress"],
                via=Via.ADMIN,
                requested_by=request.user.get_username(),
                reason=form.cleaned_data["reason"],
            )
            text = (
                "It was erased before; nothing more was done."
                if erasure.already
                else (
                    "Erased. The contact is deleted in Salesmanago through the outbox; "
                    "the erasure log shows the outcome."
                )
            )
            messages.success(request, text)
            url = reverse("admin:ingestion_datapoint_change", args=[profile.pk])
            return HttpResponseRedirect(url)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Erase {profile}",
            "opts": self.model._meta,
            "original": profile,
            "form": form,
            "events": DataPoint.objects.filter(profile=profile).count(),
        }
        return TemplateResponse(
            request, "admin/ingestion/datapoint/erase.html", context
        )


@admin.register(ErasureLog)
class ErasureLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "at",
        "customer",
        "environment",
        "person",
        "via",
        "requested_by",
        "suppressed",
        "salesmanago",
    ]
    list_filter = ["via", "suppressed", "environment", "customer"]
    search_fields = ["=datatalks_id", "requested_by", "=request_id"]
    search_help_text = "A Datatalks ID, a key or user name, or a requestId."
    list_select_related = ["customer"]
    fields = [
        "created_at",
        "customer",
        "environment",
        "person",
        "type_name",
        "via",
        "requested_by",
        "request_id",
        "reason",
        "suppressed",
        "erased_counts",
        "salesmanago",
        "suppressions_shown",
    ]
    readonly_fields = fields

    at = column(when, "created_at", "at")

    @admin.display(description="Datatalks ID", ordering="datatalks_id")
    def person(self, obj):
        url = reverse("admin:ingestion_datapoint_change", args=[obj.datatalks_id])
        return short_id(obj.datatalks_id, url=url)

    @admin.display(description="erased in the database")
    def erased_counts(self, obj):
        return (
            format_html_join("", "<div>{}: {}</div>", sorted(obj.erased.items())) or "—"
        )

    @admin.display(description="Salesmanago")
    def salesmanago(self, obj):
        """The erase deliveries: one per account the contact had been sent to."""
        rows = Delivery.objects.filter(
            data_point_id=obj.datatalks_id, kind=DeliveryKind.ERASE
        ).select_related("account")
        shown = format_html_join(
            "",
            "<div>{} {} {}</div>",
            (
                (
                    row.account.client_id,
                    badge(row.status, _tone(row.status)),
                    row.last_error or when(row.sent_at),
                )
                for row in rows
            ),
        )
        return shown or "never sent to Salesmanago: nothing to delete there"

    @admin.display(description="suppressions")
    def suppressions_shown(self, obj):
        items = obj.suppressions.all()
        return (
            format_html_join(
                "",
                "<div>{} — {}</div>",
                (
                    (
                        s.what,
                        f"lifted {when(s.lifted_at)} by {s.lifted_by}"
                        if s.lifted_at
                        else "active",
                    )
                    for s in items
                ),
            )
            or "—"
        )


def _tone(status: str) -> str:
    return {"sent": "ok", "failed": "bad", "dead": "bad"}.get(status, "wait")


@admin.register(Suppression)
class SuppressionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "customer", "environment", "what", "person", "state"]
    list_filter = ["environment", "customer"]
    search_fields = ["=erasure__datatalks_id"]
    search_help_text = "The erased person's Datatalks ID."
    list_select_related = ["customer", "erasure"]
    fields = [
        "customer",
        "environment",
        "what",
        "erasure",
        "created_at",
        "lifted_at",
        "lifted_by",
    ]
    readonly_fields = fields
    actions = ["lift"]

    @admin.display(description="Datatalks ID")
    def person(self, obj):
        url = reverse("admin:ingestion_erasurelog_change", args=[obj.erasure_id])
        return short_id(obj.erasure.datatalks_id, url=url)

    @admin.display(description="state", ordering="lifted_at")
    def state(self, obj):
        if obj.lifted_at:
            return f"lifted {when(obj.lifted_at)} by {obj.lifted_by}"
        return badge("active", "bad")

    @admin.action(
        description="Lift: accept this person's data again", permissions=["lift"]
    )
    def lift(self, request, queryset):
        count = suppressions_lift(
            ids=queryset.values_list("pk", flat=True),
            lifted_by=request.user.get_username(),
        )
        messages.success(request, f"{count} suppressions lifted.")

    def has_lift_permission(self, request):
        return request.user.has_perm("ingestion.change_suppression")


class RetentionInline(admin.StackedInline):
    """A customer's retention periods on its page, with what applies when empty."""

    model = RetentionPeriods
    can_delete = False
    extra = 1  # shown empty (the defaults in force) until staff set a period
    max_num = 1
    verbose_name_plural = "retention periods"
    fields = ["request_log_days", "deliveries_days", "in_force"]
    readonly_fields = ["in_force"]

    @admin.display(description="in force")
    def in_force(self, obj):
        request_log = (
            obj.request_log
            if obj and obj.pk
            else settings.DATATALKS_RETENTION_REQUEST_LOG_DAYS
        )
        deliveries = (
            obj.deliveries
            if obj and obj.pk
            else settings.DATATALKS_RETENTION_DELIVERIES_DAYS
        )
        return format_html(
            "request log {} days · delivered sends {} days · uploaded files {} days "
            "(DATATALKS_FILE_RETENTION_DAYS) · erasure log and erase deliveries: kept",
            request_log,
            deliveries,
            settings.DATATALKS_FILE_RETENTION_DAYS,
        )
