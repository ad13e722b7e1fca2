"""Admin for API credentials, read-only views of what the API stored and answered, and
the customer pages that run the API's code (try a payload, API documents).

Support staff answer "what happened to request X" from these pages: the request log by
requestId, the data point by Datatalks ID, its secondary ids and identity collisions.
"""

from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from datatalks.admin_display import badge, column, cut, short_id, when
from datatalks.admin_readonly import ReadOnlyAdminMixin
from integrations.routing import delivery_gaps
from mappings import admin as onboarding
from mappings.models import Customer

from . import admin_views
from .credentials import credential_create, credential_deactivate
from .files.admin import FileUploadAdmin
from .models import (
    ApiCredential,
    DataPoint,
    FileUpload,
    IdentityCollision,
    RequestLog,
    SecondaryIdentifier,
)
from .onboarding import onboarding_checklist
from .privacy.admin import DataPointPrivacyMixin, RetentionInline

_BY_CUSTOMER = ("customer", admin.RelatedOnlyFieldListFilter)

admin.site.unregister(Customer)


@admin.register(Customer)
class CustomerAdmin(onboarding.CustomerAdmin):
    """The onboarding customer admin, with the pages that run the API's own code."""

    inlines = [*onboarding.CustomerAdmin.inlines, RetentionInline]

    pages = [
        *onboarding.CustomerAdmin.pages,
        ("try/", admin_views.try_view, "try"),
        (
            r"^(?P<object_id>\d+)/(?P<document>openapi|json-schema)\.json$",
            admin_views.schema_download,
            "schema",
        ),
        ("<int:object_id>/health/", admin_views.health_view, "health"),
    ]

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        if obj is not None:
            context["checklist"] = onboarding_checklist(customer=obj)
            context["gaps"] = delivery_gaps(customer=obj)
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)


@admin.register(ApiCredential)
class ApiCredentialAdmin(admin.ModelAdmin):
    """Keys are created here; the secret is shown once, in the message after creation."""

    list_display = [
        "access_key_id",
        "customer",
        "environment",
        "active",
        "description_shown",
        "created_at",
        "last_used_at",
    ]
    list_filter = ["active", "environment", _BY_CUSTOMER]
    search_fields = [
        "=access_key_id",
        "customer__name",
        "customer__slug",
        "description",
    ]
    list_select_related = ["customer"]
    actions = ["deactivate"]

    @admin.display(description="description", ordering="description")
    def description_shown(self, obj):
        return cut(obj.description, 40)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["customer", "environment", "description"]
        return [
            "access_key_id",
            "customer",
            "environment",
            "description",
            "active",
            "created_at",
            "last_used_at",
        ]

    def get_readonly_fields(self, request, obj=None):
        # A key's customer and environment are what it grants: they never move.
        if obj is None:
            return []
        return [
            "access_key_id",
            "customer",
            "environment",
            "created_at",
            "last_used_at",
        ]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        credential, secret = credential_create(
            customer=obj.customer,
            environment=obj.environment,
            description=obj.description,
        )
        _adopt(obj, credential)
        # Only until response_add renders it: the instance lives for this request.
        obj.new_secret = secret

    def response_add(self, request, obj, post_url_continue=None):
        """The new key's secret, shown once on this page rendered here, never in a
        message: messages travel in a cookie that is signed, not encrypted."""
        # Admin views are never cached (Cache-Control: no-store, private).
        return TemplateResponse(
            request,
            "admin/ingestion/apicredential/created.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "credential": obj,
                "secret": obj.new_secret,
                "title": f"Key {obj.access_key_id} created",
            },
        )

    @admin.action(
        description="Deactivate selected keys (refused from the next request)",
        permissions=["change"],
    )
    def deactivate(self, request, queryset):
        for credential in queryset.filter(active=True):
            credential_deactivate(credential=credential)
            # Actions bypass the change form, so the history is written here.
            self.log_change(request, credential, [{"changed": {"fields": ["Active"]}}])
        self.message_user(request, "Deactivated.", messages.SUCCESS)


def _adopt(obj: ApiCredential, credential: ApiCredential) -> None:
    """Makes the admin's unsaved instance the credential the service created."""
    for field in ApiCredential._meta.concrete_fields:
        setattr(obj, field.attname, getattr(credential, field.attname))
    obj._state.adding = False
    obj._state.db = credential._state.db


class ReadOnlyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """A record of what the API did: looked at by support, changed by no one."""

    show_full_result_count = False  # counting a large table on every page is slow


def _data_point_link(pk) -> str:
    url = reverse("admin:ingestion_datapoint_change", args=[pk]) if pk else None
    return short_id(pk, url=url)


@admin.register(RequestLog)
class RequestLogAdmin(ReadOnlyAdmin):
    list_display = [
        "status",
        "request",
        "when",
        "endpoint",
        "caller",
        "type_and_version",
        "first_message",
        "datatalks",
        "duration",
    ]
    list_display_links = ["request"]
    fields = [
        "request_id",
        "created_at",
        "status_code",
        "method",
        "path",
        "customer",
        "environment",
        "access_key_id",
        "type_name",
        "mapping_version",
        "messages",
        "datatalks_id",
        "changed",
        "duration_ms",
    ]
    list_filter = ["status_code", "changed", "environment", "method", _BY_CUSTOMER]
    search_fields = [
        "=request_id",
        "=datatalks_id",
        "=access_key_id",
        "path",
        "type_name",
    ]
    search_help_text = (
        "A requestId, a Datatalks ID, an access key id, a path or a type."
    )
    list_select_related = ["customer"]
    date_hierarchy = "created_at"

    @admin.display(ordering="status_code")
    def status(self, obj):
        tone = "ok" if obj.status_code < 300 else "bad"
        return badge(str(obj.status_code), tone)

    request = column(short_id, "request_id", "request id")

    when = column(when, "created_at", "at")

    @admin.display(description="request", ordering="path")
    def endpoint(self, obj):
        return f"{obj.method} {obj.path}"

    @admin.display(description="customer, key", ordering="customer__slug")
    def caller(self, obj):
        if obj.customer is None:
            return "—"
        return format_html(
            "{} · {}<br>{}",
            obj.customer.slug,
            obj.environment,
            short_id(obj.access_key_id),
        )

    @admin.display(description="type (mapping version)", ordering="type_name")
    def type_and_version(self, obj):
        if not obj.type_name:
            return "—"
        version = f" v{obj.mapping_version}" if obj.mapping_version else ""
        return f"{obj.type_name}{version}"

    @admin.display(description="messages")
    def first_message(self, obj):
        if not obj.messages:
            return "—"
        more = f" (+{len(obj.messages) - 1})" if len(obj.messages) > 1 else ""
        return format_html("{}{}", cut(str(obj.messages[0]), 40), more)

    @admin.display(description="Datatalks ID", ordering="datatalks_id")
    def datatalks(self, obj):
        link = _data_point_link(obj.datatalks_id)
        if (
            obj.changed is False
        ):  # identical to what was stored: nothing new, nothing sent
            return format_html("{}<br>{}", link, badge("no change", "wait"))
        return link

    @admin.display(description="ms", ordering="duration_ms")
    def duration(self, obj):
        return f"{obj.duration_ms:.0f}"


class SecondaryIdentifierInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = SecondaryIdentifier
    fields = ["kind", "value", "created_at"]
    readonly_fields = fields
    extra = 0


@admin.register(DataPoint)
class DataPointAdmin(DataPointPrivacyMixin, ReadOnlyAdmin):
    list_display = [
        "datatalks_id",
        "customer",
        "environment",
        "data_point_type",
        "hard_id_shown",
        "revision",
        "updated_at",
    ]
    list_display_links = ["datatalks_id"]
    list_filter = ["environment", "data_point_type__category", _BY_CUSTOMER]
    search_fields = ["=id", "hard_id", "=secondary_ids__value"]
    search_help_text = "A Datatalks ID, a Hard-ID or a secondary id (such as an email)."
    list_select_related = ["customer", "data_point_type"]
    inlines = [SecondaryIdentifierInline]

    datatalks_id = column(short_id, "id", "Datatalks ID")

    @admin.display(description="Hard-ID", ordering="hard_id")
    def hard_id_shown(self, obj):
        return cut(obj.hard_id.replace("\x1f", ", "), 40)


@admin.register(SecondaryIdentifier)
class SecondaryIdentifierAdmin(ReadOnlyAdmin):
    list_display = [
        "kind",
        "value_shown",
        "data_point_shown",
        "customer",
        "environment",
        "created_at",
    ]
    list_filter = ["environment", "kind", _BY_CUSTOMER]
    search_fields = ["value", "=data_point__id"]
    list_select_related = ["customer"]

    @admin.display(description="value", ordering="value")
    def value_shown(self, obj):
        return cut(obj.value, 50)

    data_point_shown = column(_data_point_link, "data_point_id", "data point")


@admin.register(IdentityCollision)
class IdentityCollisionAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "customer",
        "environment",
        "kind",
        "value_shown",
        "owner_shown",
        "claimant_shown",
        "request",
    ]
    list_filter = ["environment", "kind", _BY_CUSTOMER]
    search_fields = ["value", "=request_id", "=owner__id", "=claimant__id"]
    list_select_related = ["customer"]
    date_hierarchy = "created_at"

    @admin.display(description="value", ordering="value")
    def value_shown(self, obj):
        return cut(obj.value, 40)

    owner_shown = column(_data_point_link, "owner_id", "owner")

    claimant_shown = column(_data_point_link, "claimant_id", "claimant")

    request = column(short_id, "request_id", "request id")


admin.site.register(FileUpload, FileUploadAdmin)
