"""Salesmanago accounts, mappings and the delivery ledger, for onboarding and support."""

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Max, Min, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from datatalks.admin_display import badge, column, cut, short_id, when
from mappings.models import Category, DataPointType, FieldMapping, GroupKey

from .models import (
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    IntegrationMapping,
    MappingEntry,
    SalesmanagoAccount,
)
from .salesmanago.client import MIN_SCRUBBED_CHARS
from .salesmanago.payloads import target_choices
from .services import deliveries_replay, deliveries_retry_now
from .tasks import wake_accounts


class SecretInput(forms.PasswordInput):
    """Never renders the stored secret; an empty submission keeps it."""

    def __init__(self):
        super().__init__(
            render_value=False,
            attrs={"placeholder": "unchanged", "autocomplete": "off"},
        )


class AccountForm(forms.ModelForm):
    base_url = forms.URLField(assume_scheme="https", label="Server URL")
    v3_base_url = forms.URLField(assume_scheme="https", label="API v3 URL")
    # Shorter secrets could not be scrubbed from what Salesmanago answers (client.py).
    api_secret = forms.CharField(
        widget=SecretInput(),
        required=False,
        label="API secret",
        min_length=MIN_SCRUBBED_CHARS,
    )
    v3_api_key = forms.CharField(
        widget=SecretInput(),
        required=False,
        label="API v3 key",
        min_length=MIN_SCRUBBED_CHARS,
    )

    class Meta:
        model = SalesmanagoAccount
        fields = [
            "customer",
            "group_key",
            "environment",
            "base_url",
            "v3_base_url",
            "client_id",
            "api_secret",
            "v3_api_key",
            "owner_email",
            "catalog_id",
            "enabled",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._scope_group_keys()
        self._stored = (
            {
                name: getattr(self.instance, name)
                for name in ("api_secret", "v3_api_key")
            }
            if self.instance.pk
            else {}
        )
        # The form starts empty, so only a typed-in secret counts as a change (and the
        # history says "Changed API secret" only when it was).
        for name in self._stored:
            self.initial.pop(name, None)

    def _scope_group_keys(self) -> None:
        """Only the customer's own group keys, once the customer is known."""
        customer = self.data.get("customer") or self.initial.get("customer")
        if self.instance.pk:
            customer = self.instance.customer_id
        if "group_key" in self.fields and str(customer or "").isdigit():
            self.fields["group_key"].queryset = GroupKey.objects.filter(
                customer_id=int(customer)
            ).select_related("customer")

    def clean(self):
        cleaned = super().clean()
        # Stored secrets go only to the URLs they were typed for: a new URL needs them
        # typed again, or a changed URL would carry them to another host.
        moved = {"base_url", "v3_base_url"} & set(self.changed_data)
        for name in ("api_secret", "v3_api_key"):
            if not cleaned.get(name) and name in self._stored and not moved:
                cleaned[name] = self._stored[name]
        if not cleaned.get("api_secret"):
            self.add_error(
                "api_secret",
                "The server URL changed: type the API secret (and the API v3 key) "
                "again."
                if moved and self._stored
                else "The API secret is required.",
            )
        return cleaned


@admin.register(SalesmanagoAccount)
class SalesmanagoAccountAdmin(admin.ModelAdmin):
    form = AccountForm
    list_display = [
        "enabled",
        "customer",
        "group_key",
        "environment",
        "client_id",
        "pending",
        "failed",
        "sent",
        "oldest_pending",
        "last_success",
    ]
    list_display_links = ["customer"]
    list_filter = ["environment", "enabled", "customer"]
    search_fields = ["customer__name", "customer__slug", "client_id", "group_key__key"]
    list_select_related = ["customer", "group_key"]

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if obj is not None and not self.has_change_permission(request, obj):
            # A read-only page would print the secrets as text: they are write-only.
            return [f for f in fields if f not in ("api_secret", "v3_api_key")]
        return fields

    def get_queryset(self, request):
        by = Q(deliveries__status=DeliveryStatus.PENDING)
        return (
            super()
            .get_queryset(request)
            .annotate(
                _pending=Count("deliveries", filter=by),
                _failed=Count(
                    "deliveries", filter=Q(deliveries__status__in=["failed", "dead"])
                ),
                _sent=Count(
                    "deliveries", filter=Q(deliveries__status=DeliveryStatus.SENT)
                ),
                _oldest=Min("deliveries__created_at", filter=by),
                _last=Max("deliveries__sent_at"),
            )
        )

    @admin.display(ordering="_pending")
    def pending(self, obj):
        return obj._pending

    @admin.display(description="failed/dead", ordering="_failed")
    def failed(self, obj):
        return obj._failed

    @admin.display(ordering="_sent")
    def sent(self, obj):
        return obj._sent

    @admin.display(description="oldest pending")
    def oldest_pending(self, obj):
        if obj._oldest is None:
            return "—"
        return f"{int((timezone.now() - obj._oldest).total_seconds())} s"

    @admin.display(description="last success", ordering="_last")
    def last_success(self, obj):
        return obj._last or "—"


class FieldNamesInput(forms.TextInput):
    """A text input that suggests the type's CDP field names (a datalist)."""

    def __init__(self, names: list[str], list_id: str):
        super().__init__(attrs={"list": list_id, "autocomplete": "off"})
        self.names, self.list_id = names, list_id

    def render(self, name, value, attrs=None, renderer=None):
        options = format_html_join(
            "", '<option value="{}">', ((n,) for n in self.names)
        )
        return format_html(
            '{}<datalist id="{}">{}</datalist>',
            super().render(name, value, attrs, renderer),
            self.list_id,
            options,
        )


class MappingEntryInline(admin.TabularInline):
    """Targets are chosen from the fields a Salesmanago item of the type's category
    has (payloads.TARGETS); sources are suggested from the type's CDP fields."""

    model = MappingEntry
    extra = 1
    fields = ["position", "kind", "source", "target", "conversion", "name_template"]

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        dpt = obj.data_point_type if obj else _type_from(request)
        fields = formset.form.base_fields
        fields["target"] = forms.ChoiceField(
            choices=[("", "---------"), *_targets(dpt)],
            help_text="The Salesmanago field the value goes to.",
        )
        if dpt is not None:
            names = _source_names(dpt)
            fields["source"].widget = FieldNamesInput(names, f"dt-fields-{dpt.pk}")
        return formset


def _type_from(request) -> DataPointType | None:
    """The type named by ?data_point_type= (the onboarding checklist's link)."""
    pk = request.GET.get("data_point_type", "")
    return DataPointType.objects.filter(pk=pk).first() if pk.isdigit() else None


def _targets(dpt: DataPointType | None) -> list:
    if dpt is not None:
        return target_choices(dpt.category)
    return [
        (f"{label}: {group}", options)
        for category, label in Category.choices
        for group, options in target_choices(category)
    ]


def _source_names(dpt: DataPointType) -> list[str]:
    names = list(dpt.fields.values_list("cdp_field", flat=True))
    if dpt.category == Category.EVENT:
        profiles = FieldMapping.objects.filter(
            data_point_type__customer_id=dpt.customer_id,
            data_point_type__category=Category.PROFILE,
        ).values_list("cdp_field", flat=True)
        names += sorted({f"profile.{name}" for name in profiles})
    return names


@admin.register(IntegrationMapping)
class IntegrationMappingAdmin(admin.ModelAdmin):
    list_display = ["data_point_type", "customer", "enabled"]
    list_filter = ["enabled", "data_point_type__category", "data_point_type__customer"]
    search_fields = ["data_point_type__name", "data_point_type__customer__name"]
    list_select_related = ["data_point_type__customer"]
    autocomplete_fields = ["data_point_type"]
    inlines = [MappingEntryInline]

    @admin.display(ordering="data_point_type__customer__name")
    def customer(self, obj):
        return obj.data_point_type.customer


STATUS_TONE = {
    DeliveryStatus.SENT: "ok",
    DeliveryStatus.SUPERSEDED: "ok",
    DeliveryStatus.FAILED: "bad",
    DeliveryStatus.DEAD: "bad",
    DeliveryStatus.UNKNOWN: "bad",
    DeliveryStatus.CANCELLED: "ok",
}


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "status_shown",
        "delivery",
        "when",
        "what",
        "account_shown",
        "attempts",
        "next_attempt",
        "short_error",
    ]
    list_display_links = ["delivery"]
    list_filter = ["status", "kind", "category", "account__customer", "account"]
    search_fields = ["=data_point__id", "=id", "remote_id"]
    list_select_related = ["account__customer", "account__group_key"]
    # An erase delivery's contact e-mail is never shown: the person is erased.
    readonly_fields = [
        f.name for f in Delivery._meta.fields if f.name != "contact_email"
    ]
    actions = ["retry_now", "replay"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="status", ordering="status")
    def status_shown(self, obj):
        return badge(obj.status, STATUS_TONE.get(obj.status, "wait"))

    delivery = column(short_id, "id", "id")

    when = column(when, "created_at", "created")

    @admin.display(description="next attempt", ordering="next_attempt_at")
    def next_attempt(self, obj):
        waiting = obj.status == DeliveryStatus.PENDING
        return when(obj.next_attempt_at) if waiting else "—"

    @admin.display(description="data point, revision", ordering="data_point_id")
    def what(self, obj):
        url = reverse("admin:ingestion_datapoint_change", args=[obj.data_point_id])
        erase = " erase" if obj.kind == DeliveryKind.ERASE else ""
        return format_html(
            "{}{} r{}<br>{}",
            obj.get_category_display(),
            erase,
            obj.revision,
            short_id(obj.data_point_id, url=url),
        )

    @admin.display(description="account", ordering="account_id")
    def account_shown(self, obj):
        account = obj.account
        return format_html(
            "{}/{}<br>{}",
            account.customer.slug,
            account.group_key.key,
            account.environment,
        )

    @admin.display(description="last error")
    def short_error(self, obj):
        return cut(obj.last_error, 50)

    def has_retry_permission(self, request) -> bool:
        # An action needs a permission of its own, or every viewer could run it;
        # the ledger allows no change here, so retrying asks for change_delivery.
        return request.user.has_perm("integrations.change_delivery")

    @admin.action(
        description="Retry now (keeps attempts and age)", permissions=["retry"]
    )
    def retry_now(self, request, queryset):
        self._requeue(request, queryset, deliveries_retry_now)

    @admin.action(
        description="Replay (attempts and max age start again)", permissions=["retry"]
    )
    def replay(self, request, queryset):
        self._requeue(request, queryset, deliveries_replay)

    def _requeue(self, request, queryset, service):
        accounts = set(queryset.values_list("account_id", flat=True))
        count = service(ids=list(queryset.values_list("pk", flat=True)))
        wake_accounts(accounts, force=True)
        self.message_user(
            request, f"{count} deliveries queued to send now.", messages.SUCCESS
        )
