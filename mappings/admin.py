"""The onboarding tool: customers, their group keys, data point types and field mappings."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.forms.models import BaseInlineFormSet

from .models import Customer, DataPointType, FieldMapping, GroupKey


class GroupKeyFormSet(BaseInlineFormSet):
    def clean(self):
        super().clean()
        kept = [
            f for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")
        ]
        defaults = sum(1 for f in kept if f.cleaned_data.get("is_default"))
        if kept and defaults != 1:
            raise ValidationError("Mark exactly one group key as the default.")


class GroupKeyInline(admin.TabularInline):
    model = GroupKey
    formset = GroupKeyFormSet
    extra = 0
    fields = ["key", "is_default", "description"]


class DataPointTypeInline(admin.TabularInline):
    model = DataPointType
    extra = 0
    fields = ["name", "category", "active", "description"]
    show_change_link = True


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
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
    readonly_fields = ["mapping_version", "created_at"]
    inlines = [GroupKeyInline, DataPointTypeInline]
    fieldsets = [
        (None, {"fields": ["name", "slug", "active", "time_zone"]}),
        ("Integrations", {"fields": ["salesmanago_enabled"]}),
        (
            "Bookkeeping",
            {"fields": ["mapping_version", "created_at"], "classes": ["collapse"]},
        ),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_types=Count("data_point_types"))

    @admin.display(description="types", ordering="_types")
    def type_count(self, obj):
        return obj._types


class FieldMappingFormSet(BaseInlineFormSet):
    """Checks what only the whole set of fields can tell: an active type has a Hard-ID."""

    def clean(self):
        super().clean()
        kept = [
            f for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")
        ]
        if self.instance.active and not any(
            f.cleaned_data.get("hard_id") for f in kept
        ):
            raise ValidationError(
                "An active type needs at least one Hard-ID field: mark one, or make the "
                "type inactive."
            )


class FieldMappingInline(admin.TabularInline):
    model = FieldMapping
    formset = FieldMappingFormSet
    extra = 1
    fields = [
        "position",
        "source_field",
        "cdp_field",
        "data_type",
        "format",
        "optional",
        "hard_id",
        "secondary_id",
        "references",
    ]
    ordering = ["position", "id"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "references":
            # Only Hard-ID fields of profile types can be referred to.
            kwargs["queryset"] = FieldMapping.objects.filter(
                hard_id=True, data_point_type__category="profile"
            ).select_related("data_point_type")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class DataPointTypeForm(forms.ModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.fields_checked_by_formset = True


@admin.register(DataPointType)
class DataPointTypeAdmin(admin.ModelAdmin):
    form = DataPointTypeForm
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
    readonly_fields = ["created_at", "updated_at"]
    fields = [
        "customer",
        "category",
        "name",
        "description",
        "active",
        "created_at",
        "updated_at",
    ]

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
        "source_field",
        "cdp_field",
        "data_type",
        "format",
        "optional",
        "hard_id",
        "secondary_id",
        "data_point_type",
    ]
    list_filter = [
        "data_type",
        "optional",
        "hard_id",
        "secondary_id",
        "data_point_type__category",
    ]
    search_fields = ["source_field", "cdp_field", "data_point_type__name"]
    list_select_related = ["data_point_type", "data_point_type__customer"]
    autocomplete_fields = ["data_point_type"]


@admin.register(GroupKey)
class GroupKeyAdmin(admin.ModelAdmin):
    list_display = ["key", "customer", "is_default", "description"]
    list_filter = ["is_default"]
    search_fields = ["key", "customer__name", "customer__slug"]
    list_select_related = ["customer"]
