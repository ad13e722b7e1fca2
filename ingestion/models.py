"""What the API stores: credentials, data points with their ids, and a record per request."""

import secrets
import string
import uuid

from django.db import models
from django.db.models import Q

from datatalks.crypto import EncryptedTextField
from mappings.models import Customer, DataPointType, Environment, GroupKey

SECONDARY_ID_MAX_LENGTH = 512


_KEY_ALPHABET = string.ascii_uppercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"


def new_access_key_id() -> str:
    return "DT" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(18))


def new_secret_access_key() -> str:
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))


class ApiCredential(models.Model):
    """An AWS SigV4 key pair a customer signs with; the secret is encrypted at rest."""

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="credentials"
    )
    environment = models.CharField(
        max_length=16, choices=Environment.choices, default=Environment.PRODUCTION
    )
    access_key_id = models.CharField(
        "access key id",
        max_length=20,
        unique=True,
        default=new_access_key_id,
        editable=False,
    )
    secret_access_key = EncryptedTextField(
        default=new_secret_access_key, editable=False
    )
    description = models.CharField(max_length=200, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "API credential"
        ordering = ["customer__name", "-created_at"]

    def __str__(self) -> str:
        return f"{self.access_key_id} ({self.customer.slug}, {self.environment})"


class DataPoint(models.Model):
    """One profile, event or inventory item; its primary key is its Datatalks ID."""

    id = models.UUIDField(
        "Datatalks ID", primary_key=True, default=uuid.uuid4, editable=False
    )
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    environment = models.CharField(max_length=16, choices=Environment.choices)
    data_point_type = models.ForeignKey(
        DataPointType, on_delete=models.PROTECT, related_name="+"
    )
    group_key = models.ForeignKey(GroupKey, on_delete=models.PROTECT, related_name="+")
    hard_id = models.TextField(
        "Hard-ID", help_text="The Hard-ID's values, \\x1f-separated."
    )
    data = models.JSONField(help_text="The mapped values by CDP field name.")
    # Events: the profile this one refers to, once that profile has arrived.
    profile = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    profile_type = models.ForeignKey(
        DataPointType, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    profile_hard_id = models.TextField(blank=True, default="")
    revision = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "data point"
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "environment", "data_point_type", "hard_id"],
                name="one_datapoint_per_hard_id",
            )
        ]
        indexes = [
            models.Index(
                fields=["profile_type", "environment", "profile_hard_id"],
                condition=Q(profile__isnull=True, profile_type__isnull=False),
                name="datapoint_unlinked_events",
            )
        ]

    def __str__(self) -> str:
        return f"{self.id} ({self.hard_id.replace(chr(31), ', ')})"


class SecondaryIdentifier(models.Model):
    """Another id (email, CRM id) of a data point, normalized for matching."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    environment = models.CharField(max_length=16, choices=Environment.choices)
    kind = models.CharField(
        max_length=100, help_text="The CDP field name, such as email."
    )
    value = models.CharField(max_length=SECONDARY_ID_MAX_LENGTH)
    data_point = models.ForeignKey(
        DataPoint, on_delete=models.CASCADE, related_name="secondary_ids"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "environment", "kind", "value"],
                name="secondary_id_unique_per_customer",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind}={self.value}"


class IdentityCollision(models.Model):
    """The same secondary id sent for two different Hard-IDs: recorded, never merged."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    environment = models.CharField(max_length=16, choices=Environment.choices)
    kind = models.CharField(max_length=100)
    value = models.CharField(max_length=SECONDARY_ID_MAX_LENGTH)
    owner = models.ForeignKey(DataPoint, on_delete=models.CASCADE, related_name="+")
    claimant = models.ForeignKey(DataPoint, on_delete=models.CASCADE, related_name="+")
    request_id = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "value", "owner", "claimant"],
                name="collision_recorded_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind}={self.value}: {self.owner_id} vs {self.claimant_id}"


class RequestLog(models.Model):
    """One API request and how it ended, so support can answer "what happened to X"."""

    request_id = models.UUIDField(primary_key=True, editable=False)
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    access_key_id = models.CharField(max_length=20, blank=True)
    environment = models.CharField(max_length=16, blank=True)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=300)
    type_name = models.CharField("type", max_length=100, blank=True)
    mapping_version = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="The version of the type's mapping that judged it.",
    )
    status_code = models.PositiveSmallIntegerField()
    messages = models.JSONField(default=list)
    datatalks_id = models.UUIDField("Datatalks ID", null=True, blank=True)
    duration_ms = models.FloatField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "API request"
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["customer", "-created_at"], name="requestlog_by_customer"
            )
        ]

    def __str__(self) -> str:
        return f"{self.request_id} {self.method} {self.path} → {self.status_code}"
