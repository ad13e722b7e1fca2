"""The record of every erasure, the suppressions that keep a person erased, and each
customer's retention periods. Imported by ingestion.models, so they are the app's."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from mappings.models import Customer, Environment


class Via(models.TextChoices):
    API = "api", "API (DELETE /v3/profiles/{id})"
    ADMIN = "admin", "Admin (staff)"


class ErasureLog(models.Model):
    """One erasure: who asked (a key or a staff user), when, and what was erased where.

    Written once by the erasure and never changed; it holds no personal values, only
    the Datatalks ID and counts. The Salesmanago outcome is its erase deliveries.
    """

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    environment = models.CharField(max_length=16, choices=Environment.choices)
    datatalks_id = models.UUIDField("Datatalks ID", db_index=True)
    type_name = models.CharField("type", max_length=100)
    via = models.CharField(max_length=8, choices=Via.choices)
    requested_by = models.CharField(
        max_length=150, help_text="The access key id, or the staff user's name."
    )
    reason = models.TextField(blank=True)
    suppressed = models.BooleanField(
        default=False, help_text="Later data for the same person is refused."
    )
    erased = models.JSONField(
        default=dict, help_text="What was erased in the database, as counts."
    )
    salesmanago_accounts = models.JSONField(
        default=list, help_text="The accounts the contact is deleted in (clientIds)."
    )
    request_id = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "erasure"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"erasure of {self.datatalks_id}"


class Suppression(models.Model):
    """One identifier of an erased person (a Hard-ID or a secondary id), kept only as a
    keyed hash, so later data carrying it is refused until staff lift it."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    environment = models.CharField(max_length=16, choices=Environment.choices)
    digest = models.CharField(max_length=64, help_text="HMAC-SHA256, hex.")
    what = models.CharField(
        max_length=120, help_text="Which identifier, such as 'Hard-ID of person'."
    )
    erasure = models.ForeignKey(
        ErasureLog, on_delete=models.PROTECT, related_name="suppressions"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "environment", "digest"],
                condition=Q(lifted_at__isnull=True),
                name="one_active_suppression",
            )
        ]

    def __str__(self) -> str:
        return f"{self.what} of {self.erasure.datatalks_id}"


class RetentionPeriods(models.Model):
    """A customer's own retention periods; an empty one is the setting's default."""

    customer = models.OneToOneField(
        Customer, on_delete=models.CASCADE, related_name="retention"
    )
    request_log_days = models.PositiveIntegerField(
        "request log (days)",
        null=True,
        blank=True,
        help_text="API requests and their messages. Empty: "
        "DATATALKS_RETENTION_REQUEST_LOG_DAYS.",
    )
    deliveries_days = models.PositiveIntegerField(
        "delivered sends (days)",
        null=True,
        blank=True,
        help_text="Deliveries that ended (sent, failed, dead, superseded, cancelled), "
        "with their excerpts. Empty: DATATALKS_RETENTION_DELIVERIES_DAYS.",
    )

    class Meta:
        verbose_name = "retention periods"
        verbose_name_plural = "retention periods"

    def __str__(self) -> str:
        return f"retention of {self.customer}"

    @property
    def request_log(self) -> int:
        return self.request_log_days or settings.DATATALKS_RETENTION_REQUEST_LOG_DAYS

    @property
    def deliveries(self) -> int:
        return self.deliveries_days or settings.DATATALKS_RETENTION_DELIVERIES_DAYS
