"""The onboarding model: customers, their group keys, data point types and field mappings."""

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q

from . import types
from .categories import Category

identifier_validator = RegexValidator(
    r"^[A-Za-z_][A-Za-z0-9_\-]*$",
    "Use letters, digits, '_' and '-', starting with a letter or '_'.",
)


ACTIVE_NEEDS_HARD_ID = (
    "An active type needs at least one Hard-ID field: tick Hard-ID on one, or leave "
    "the type inactive."
)


def active_type_check(*, active: bool, hard_ids: Iterable[bool]) -> None:
    """An active type needs at least one Hard-ID field: the one check of that rule.

    Whoever saves a type's ``active`` or its fields passes each field's Hard-ID flag as
    it will be saved (while a form is checked, the rows in the database are the old
    ones, so the model cannot check it itself).
    """
    if active and not any(hard_ids):
        raise ValidationError(ACTIVE_NEEDS_HARD_ID)


class Environment(models.TextChoices):
    """A customer's keys, data and Salesmanago accounts are each production or staging."""

    PRODUCTION = "production", "Production"
    STAGING = "staging", "Staging"


class Customer(models.Model):
    """A tenant of the CDP: everything else hangs off one customer."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=64, unique=True)
    active = models.BooleanField(default=True)
    salesmanago_enabled = models.BooleanField(
        "Salesmanago integration enabled",
        default=False,
        help_text="Send this customer's accepted data to its Salesmanago accounts.",
    )
    time_zone = models.CharField(
        max_length=64,
        default="Europe/Stockholm",
        help_text="The zone the customer's datetimes are in (they are sent without one).",
    )
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Requests per minute per API key; empty: the service default.",
    )
    # An internal cache key, not a mapping version (each type has its own, see
    # MappingVersion): bumped on every change to the customer's types, fields, group
    # keys, accounts or Salesmanago mappings; compiled specs and routes are cached per
    # (customer, config_revision), so a bump invalidates them.
    config_revision = models.PositiveIntegerField(
        "configuration revision",
        default=1,
        editable=False,
        help_text="Internal: counts changes to the customer's configuration, so cached "
        "copies are renewed. Each type's mapping version is on the type's page.",
    )
    # The onboarding checklist's "a payload tried" step.
    payload_tried_at = models.DateTimeField(
        "first payload tried",
        null=True,
        blank=True,
        editable=False,
        help_text="When staff first tried a payload the API accepted (Try a payload).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"


class GroupKey(models.Model):
    """A brand's or market's key (``main_group``): routes data to its integration accounts."""

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="group_keys"
    )
    key = models.CharField(max_length=100, validators=[identifier_validator])
    description = models.CharField(max_length=200, blank=True)
    is_default = models.BooleanField(
        "default", default=False, help_text="Used by v3 requests that send no groupKey."
    )

    class Meta:
        ordering = ["customer__name", "key"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "key"], name="group_key_unique_per_customer"
            ),
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(is_default=True),
                name="one_default_group_key_per_customer",
                violation_error_message="A customer has exactly one default group key.",
            ),
        ]

    def __str__(self) -> str:
        default = " (default)" if self.is_default else ""
        return f"{self.customer.slug}: {self.key}{default}"


class DataPointType(models.Model):
    """A kind of data a customer sends (``person``, ``purchase_ev``), under one category."""

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="data_point_types"
    )
    category = models.CharField(max_length=16, choices=Category.choices)
    name = models.CharField(
        max_length=100,
        validators=[identifier_validator],
        help_text="The value customers send in the payload's `type`.",
    )
    description = models.TextField(blank=True)
    active = models.BooleanField(
        default=False,
        help_text="Only active types are accepted; needs a Hard-ID field.",
    )
    # The mapping version that judges payloads now; see MappingVersion.
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["customer__name", "category", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "name"], name="type_name_unique_per_customer"
            )
        ]

    def __str__(self) -> str:
        # Named with its customer: every customer may have a "person".
        return (
            f"{self.customer.slug}: {self.name} ({self.get_category_display().lower()})"
        )


# What a field of a mapping says (besides its position and the field it refers to): the
# admin edits these, a mapping version records them, the compiled spec reads them.
FIELD_RULES = (
    "source_field",
    "cdp_field",
    "data_type",
    "format",
    "optional",
    "hard_id",
    "secondary_id",
)


class FieldMapping(models.Model):
    """One field of a data point type: where it comes from, what it is, how it is checked."""

    data_point_type = models.ForeignKey(
        DataPointType, on_delete=models.CASCADE, related_name="fields"
    )
    source_field = models.CharField(
        max_length=100, help_text="The key in the payload's `data`."
    )
    cdp_field = models.CharField(
        "CDP field",
        max_length=100,
        validators=[identifier_validator],
        help_text="The name the value is stored under in the CDP.",
    )
    data_type = models.CharField(max_length=16, choices=types.DataType.choices)
    format = models.CharField(
        max_length=100,
        blank=True,
        help_text=(
            "Datetime: a pattern such as YYYY-MM-DD HH:MM:SS. "
            "Boolean: the true/false words, such as Yes/No."
        ),
    )
    optional = models.BooleanField(default=False)
    hard_id = models.BooleanField(
        "Hard-ID", default=False, help_text="Part of the customer's own unique key."
    )
    secondary_id = models.BooleanField(
        "secondary identifier",
        default=False,
        help_text="Another id of the same entity, such as an email or CRM id.",
    )
    references = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="referenced_by",
        help_text="Events: the profile Hard-ID field this field refers to.",
    )
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["data_point_type", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["data_point_type", "source_field"],
                name="source_field_unique_per_type",
                violation_error_message="This source field is already mapped in this type.",
            ),
            models.UniqueConstraint(
                fields=["data_point_type", "cdp_field"],
                name="cdp_field_unique_per_type",
                violation_error_message="This CDP field name is already used in this type.",
            ),
            models.CheckConstraint(
                condition=~(Q(hard_id=True) & Q(optional=True)),
                name="hard_id_not_optional",
                violation_error_message="A Hard-ID field cannot be optional.",
            ),
            models.CheckConstraint(
                condition=~Q(references=F("id")),
                name="field_does_not_reference_itself",
            ),
        ]

    def __str__(self) -> str:
        owner = self.data_point_type
        return f"{owner.customer.slug}: {owner.name}.{self.source_field} → {self.cdp_field}"

    def clean(self):
        errors = {}
        if self.hard_id and self.optional:
            errors["optional"] = "A Hard-ID field cannot be optional."
        if self.hard_id and self.data_type == types.DataType.LIST:
            errors["hard_id"] = "A list cannot be part of the Hard-ID."
        try:
            types.check_format(self.data_type, self.format)
        except ValueError as exc:
            errors["format"] = str(exc)
        if self.references_id:
            errors.update(self._reference_errors())
        if errors:
            raise ValidationError(errors)

    def _reference_errors(self) -> dict[str, str]:
        target = self.references
        owner = self.data_point_type
        if target.data_point_type.customer_id != owner.customer_id:
            return {"references": "The referenced field belongs to another customer."}
        if target.data_point_type.category != Category.PROFILE:
            return {"references": "Only a profile type's field can be referenced."}
        if (
            not target.hard_id
            or target.data_point_type.fields.filter(hard_id=True).count() != 1
        ):
            return {
                "references": "The referenced field must be its profile type's only Hard-ID."
            }
        if target.data_type != self.data_type:
            return {
                "references": f"The referenced field is a {target.data_type}, not a {self.data_type}."
            }
        return {}


class MappingVersion(models.Model):
    """A saved state of one type's field mappings: what judged payloads from then on."""

    data_point_type = models.ForeignKey(
        DataPointType, on_delete=models.CASCADE, related_name="versions"
    )
    version = models.PositiveIntegerField()
    fields = models.JSONField(help_text="The field mappings as they were saved.")
    created_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["data_point_type", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["data_point_type", "version"], name="one_mapping_version_number"
            )
        ]

    def __str__(self) -> str:
        owner = self.data_point_type
        return f"{owner.customer.slug}: {owner.name} v{self.version}"
