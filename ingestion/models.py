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
    # No index of its own: one_datapoint_per_hard_id starts with it.
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="+", db_index=False
    )
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
    # Set by an erasure: the values, Hard-ID and secondary ids are gone; the id stays.
    erased_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "data point"
        permissions = [("erase_datapoint", "Can erase a person's data")]
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

    # No index of its own: secondary_id_unique_per_customer starts with it. No
    # database constraint either: the data point (a foreign key) is the same
    # customer's, written with it, and a customer's data points go before it does;
    # the check cost each batch item 4 us at commit.
    customer = models.ForeignKey(
        Customer,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
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
    changed = models.BooleanField(
        null=True,
        blank=True,
        help_text="Whether the accepted data changed what was stored; no: identical to "
        "what its Hard-ID already had (no new revision, nothing sent). Empty for "
        "requests that stored nothing.",
    )
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


class FileStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    PROCESSING = "processing", "Processing"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class FileFormat(models.TextChoices):
    CSV = "csv", "CSV"
    JSONL = "jsonl", "JSON lines"
    XLSX = "xlsx", "XLSX"


class FileUpload(models.Model):
    """A file of data points sent to POST /v3/files/..., and how far its processing got.

    Progress is written in the same transaction as each chunk's data, so ``position``
    (the last row number done) is exactly where a new worker resumes.
    """

    id = models.UUIDField("file id", primary_key=True, default=uuid.uuid4)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    environment = models.CharField(max_length=16, choices=Environment.choices)
    access_key_id = models.CharField(
        max_length=20, blank=True, help_text="The key that signed the upload."
    )
    uploaded_by = models.CharField(
        max_length=150, blank=True, help_text="The staff user, for admin uploads."
    )
    category = models.CharField(max_length=16)
    type_name = models.CharField("type", max_length=100)
    group_key = models.CharField(
        max_length=100, blank=True, help_text="Empty: the customer's default."
    )
    format = models.CharField(max_length=8, choices=FileFormat.choices)
    storage_name = models.CharField(max_length=300)
    size = models.BigIntegerField(help_text="Bytes.")
    sha256 = models.CharField("SHA-256", max_length=64)
    status = models.CharField(
        max_length=16, choices=FileStatus.choices, default=FileStatus.QUEUED
    )
    failure = models.TextField(blank=True, help_text="Why the file failed as a whole.")
    position = models.PositiveBigIntegerField(
        default=0, help_text="The last row number processed: where a worker resumes."
    )
    rows_accepted = models.PositiveBigIntegerField(default=0)
    rows_rejected = models.PositiveBigIntegerField(default=0)
    progress = models.FloatField(default=0.0, help_text="0 to 1, estimated.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="When the last chunk was committed."
    )
    # The task working on the file; a chunk commits only under its own claim.
    claim = models.UUIDField(null=True, blank=True, editable=False)
    takeovers = models.PositiveSmallIntegerField(
        default=0,
        help_text="Times in a row a worker died or went quiet on this file before "
        "storing a chunk; past DATATALKS_FILE_MAX_TAKEOVERS the file fails.",
    )
    deleted_at = models.DateTimeField(
        null=True, blank=True, help_text="When the stored file was deleted (retention)."
    )

    class Meta:
        verbose_name = "file upload"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="file_by_customer"),
            models.Index(fields=["status", "heartbeat_at"], name="file_by_status"),
        ]

    def __str__(self) -> str:
        return f"{self.type_name} file {self.id}"

    @property
    def rows_seen(self) -> int:
        return self.rows_accepted + self.rows_rejected


class RejectedRow(models.Model):
    """One row of a file that was not stored, with every reason, as the API words it."""

    file = models.ForeignKey(
        FileUpload, on_delete=models.CASCADE, related_name="rejected_rows"
    )
    row = models.PositiveBigIntegerField(
        help_text="The row as a spreadsheet numbers it (the header is row 1), or the "
        "line number in JSON lines."
    )
    hard_id = models.TextField("Hard-ID", blank=True)
    messages = models.JSONField(default=list)

    class Meta:
        ordering = ["file", "row"]
        constraints = [
            models.UniqueConstraint(fields=["file", "row"], name="rejected_row_once")
        ]

    def __str__(self) -> str:
        return f"row {self.row}"


class RequestRollup(models.Model):
    """Requests of one customer's type in one hour, accepted and rejected: what the data
    health page charts, so it never counts the request log itself.

    Written by requestlog_rollup (a beat task) from the log, never by the ingest path.
    """

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField()
    type_name = models.CharField("type", max_length=100, blank=True)
    accepted = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "hour", "type_name"], name="one_rollup_per_hour"
            )
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.hour:%Y-%m-%d %H}h {self.type_name}"


class RejectionRollup(models.Model):
    """How often one rejection message was answered to a customer in one day, with the
    latest request that got it (support opens it from the data health page)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    message = models.CharField(max_length=300)
    count = models.PositiveIntegerField(default=0)
    example_request_id = models.UUIDField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "day", "message"],
                name="one_rejection_rollup_per_day",
            )
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.day} {self.message[:40]}"


class RollupMark(models.Model):
    """How far the request log is rolled up: rows created before ``until`` are counted."""

    name = models.CharField(max_length=50, unique=True)
    until = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} until {self.until}"


# The privacy models live in their own module; imported here so they are the app's.
from .privacy.models import (  # noqa: E402, F401
    ErasureLog,
    RetentionPeriods,
    Suppression,
)
