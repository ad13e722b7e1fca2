"""The onboarding tool: customers, their group keys, data point types and field mappings.

The onboarding pages (import a sample, templates) are in admin_views.py; every save of a
type's fields records a mapping version (versions.py). The pages that run the API's
code (try a payload, API documents) are added to CustomerAdmin by ingestion/admin.py.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Count
from django.forms.models import BaseInlineFormSet
from django.template.loader import render_to_string

from datatalks.admin_pages import OwnPagesMixin
from datatalks.admin_readonly import ReadOnlyAdminMixin

from . import admin_views
from .admin_forms import profile_hard_ids
from .models import (
    FIELD_RULES,
    Customer,
    DataPointType,
    FieldMapping,
    GroupKey,
    MappingVersion,
    active_type_check,
)
from .onboarding_templates import TEMPLATES, template_apply
from .versions import mapping_version_create, snapshot_changes

HISTORY_SHOWN = 10


class GroupKeyFormSet(BaseInlineFormSet):
    def clean(self):
        super().clean()
        kept = [
            f for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")
        ]
        defaults = sum(1 for f in kept if f.cleaned_data.get("is_default"))
        if len(kept) == 1 and defaults == 0:
            # A customer's only group key is its default: nothing to choose.
            kept[0].cleaned_data["is_default"] = kept[0].instance.is_default = True
            return
        if kept and defaults != 1:
            raise ValidationError("Mark exactly one group key as the default.")


class GroupKeyInline(admin.TabularInline):
    model = GroupKey
    formset = GroupKeyFormSet
    extra = 0
    fields = ["key", "is_default", "description"]


class DataPointTypeInlineForm(forms.ModelForm):
    """A type's line on its customer's page: its fields are not edited here, so an
    active type is checked against the ones it has."""

    def clean(self):
        cleaned = super().clean()
        fields = self.instance.fields.all() if self.instance.pk else []
        active_type_check(
            active=cleaned.get("active", False), hard_ids=[f.hard_id for f in fields]
        )
        return cleaned


class DataPointTypeInline(admin.TabularInline):
    model = DataPointType
    form = DataPointTypeInlineForm
    extra = 0
    fields = ["name", "category", "active", "description"]
    show_change_link = True
    # One line per type: the description is edited in full on the type's own page.
    formfield_overrides = {
        models.TextField: {"widget": forms.TextInput(attrs={"size": 60})}
    }


@admin.register(Customer)
class CustomerAdmin(OwnPagesMixin, admin.ModelAdmin):
    list_display = [
        "name",
        "slug",
        "active",
        "salesmanago_enabled",
        "type_count",
        "created_at",
    ]
    list_filter = ["active", "salesmanago_enabled"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["config_revision", "created_at"]
    inlines = [GroupKeyInline, DataPointTypeInline]
    fieldsets = [
        (None, {"fields": ["name", "slug", "active", "time_zone"]}),
        ("Integrations", {"fields": ["salesmanago_enabled"]}),
        (
            "Bookkeeping",
            {"fields": ["config_revision", "created_at"], "classes": ["collapse"]},
        ),
    ]

    actions = ["apply_sports_template", "apply_retail_template"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_types=Count("data_point_types"))

    @admin.display(description="types", ordering="_types")
    def type_count(self, obj):
        return obj._types

    pages = [
        ("<int:object_id>/template/<slug:key>/", admin_views.template_view, "template")
    ]

    def render_change_form(self, request, context, *args, **kwargs):
        context["templates"] = TEMPLATES.values()
        return super().render_change_form(request, context, *args, **kwargs)

    @admin.action(
        description="Apply the Sports template to the selected customers",
        permissions=["change"],  # without one, every viewer could run it
    )
    def apply_sports_template(self, request, queryset):
        self._apply_template(request, queryset, "sports")

    @admin.action(
        description="Apply the Retail template to the selected customers",
        permissions=["change"],
    )
    def apply_retail_template(self, request, queryset):
        self._apply_template(request, queryset, "retail")

    def _apply_template(self, request, queryset, key):
        for customer in queryset:
            result = template_apply(customer=customer, key=key, user=request.user)
            message = admin_views.template_message(customer, result)
            if result.changed:  # actions bypass the change form: record it here
                self.log_change(request, customer, message)
            self.message_user(request, message, messages.SUCCESS)


class FieldMappingFormSet(BaseInlineFormSet):
    """Checks what only the whole set of fields can tell: an active type has a Hard-ID.

    A field may refer only to its own customer's profile Hard-IDs.
    """

    def add_fields(self, form, index):
        super().add_fields(form, index)
        if "references" in form.fields:
            form.fields["references"].queryset = profile_hard_ids(
                self.instance.customer_id
            )

    def clean(self):
        super().clean()
        kept = [
            f for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")
        ]
        active_type_check(
            active=self.instance.active,
            hard_ids=[f.cleaned_data.get("hard_id") for f in kept],
        )


class FieldMappingInline(admin.TabularInline):
    model = FieldMapping
    formset = FieldMappingFormSet
    extra = 1
    fields = ["position", *FIELD_RULES, "references"]
    ordering = ["position", "id"]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "references":
            # A plain select: adding or editing a profile's field belongs on its type.
            for action in ("add", "change", "delete", "view"):
                setattr(formfield.widget, f"can_{action}_related", False)
        return formfield


@admin.register(DataPointType)
class DataPointTypeAdmin(OwnPagesMixin, admin.ModelAdmin):
    list_display = [
        "name",
        "category",
        "customer",
        "active",
        "field_count",
        "hard_id_fields",
    ]
    list_filter = ["category", "active", "customer"]
    search_fields = ["name", "description", "customer__name", "customer__slug"]
    list_select_related = ["customer"]
    autocomplete_fields = ["customer"]
    inlines = [FieldMappingInline]
    readonly_fields = ["version", "version_history", "created_at", "updated_at"]
    fields = [
        "customer",
        "category",
        "name",
        "description",
        "active",
        "version",
        "version_history",
        "created_at",
        "updated_at",
    ]

    pages = [
        ("import/", admin_views.import_view, "import_new"),
        ("<int:object_id>/import/", admin_views.import_view, "import"),
    ]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.version = 0  # nothing saved yet: this save's fields are version 1
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # After every inline is written, so one save is one version.
        mapping_version_create(data_point_type=form.instance, user=request.user)

    @admin.display(description="mapping versions")
    def version_history(self, obj):
        if obj.pk is None:
            return "—"
        versions = list(obj.versions.select_related("created_by")[: HISTORY_SHOWN + 1])
        rows = [
            (v, snapshot_changes(older.fields if older else None, v.fields))
            for v, older in zip(versions, [*versions[1:], None], strict=True)
        ][:HISTORY_SHOWN]
        return render_to_string(
            "admin/mappings/version_history.html", {"rows": rows, "type": obj}
        )

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(_fields=Count("fields"))
            .prefetch_related("fields")
        )

    @admin.display(description="fields", ordering="_fields")
    def field_count(self, obj):
        return obj._fields

    @admin.display(description="Hard-ID")
    def hard_id_fields(self, obj):
        names = [f.source_field for f in obj.fields.all() if f.hard_id]
        return " + ".join(names) or "—"


@admin.register(FieldMapping)
class FieldMappingAdmin(admin.ModelAdmin):
    list_display = [
        "data_point_type",
        "source_field",
        "cdp_field",
        "data_type",
        "format",
        "flags",
    ]
    list_filter = [
        ("data_point_type__customer", admin.RelatedOnlyFieldListFilter),
        "data_type",
        "hard_id",
        "secondary_id",
        "optional",
        "data_point_type__category",
    ]
    search_fields = ["source_field", "cdp_field", "data_point_type__name"]
    list_select_related = ["data_point_type", "data_point_type__customer"]
    autocomplete_fields = ["data_point_type"]

    @admin.display(description="flags")
    def flags(self, obj):
        shown = [
            label
            for label, on in (
                ("Hard-ID", obj.hard_id),
                ("secondary id", obj.secondary_id),
                ("optional", obj.optional),
            )
            if on
        ]
        return ", ".join(shown) or "—"

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        if obj is not None and "references" in form.base_fields:
            form.base_fields["references"].queryset = profile_hard_ids(
                obj.data_point_type.customer_id
            )
        return form

    # A field changed on its own page is a save of its type's mapping too.
    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        mapping_version_create(data_point_type=obj.data_point_type, user=request.user)
        if change and "data_point_type" in form.changed_data:
            # The field left another type: that type's mapping changed too.
            left = DataPointType.objects.get(pk=form.initial["data_point_type"])
            mapping_version_create(data_point_type=left, user=request.user)

    def delete_model(self, request, obj):
        dpt = obj.data_point_type
        super().delete_model(request, obj)
        mapping_version_create(data_point_type=dpt, user=request.user)

    def delete_queryset(self, request, queryset):
        types = list(DataPointType.objects.filter(fields__in=queryset).distinct())
        super().delete_queryset(request, queryset)
        for dpt in types:
            mapping_version_create(data_point_type=dpt, user=request.user)


@admin.register(GroupKey)
class GroupKeyAdmin(admin.ModelAdmin):
    list_display = ["key", "customer", "is_default", "description"]
    list_filter = ["is_default"]
    search_fields = ["key", "customer__name", "customer__slug"]
    list_select_related = ["customer"]


@admin.register(MappingVersion)
class MappingVersionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The saved states of each type's mapping: read only, as history is."""

    list_display = [
        "__str__",
        "customer",
        "version",
        "field_count",
        "created_by",
        "created_at",
    ]
    list_filter = [("data_point_type__customer", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["data_point_type__name", "data_point_type__customer__name"]
    list_select_related = ["data_point_type__customer", "created_by"]
    fields = ["data_point_type", "version", "created_by", "created_at", "snapshot"]
    readonly_fields = fields

    @admin.display(description="customer", ordering="data_point_type__customer__name")
    def customer(self, obj):
        return obj.data_point_type.customer

    @admin.display(description="fields")
    def field_count(self, obj):
        return len(obj.fields)

    @admin.display(description="fields")
    def snapshot(self, obj):
        return render_to_string(
            "admin/mappings/version_snapshot.html", {"fields": obj.fields}
        )
