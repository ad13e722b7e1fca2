"""Salesmanago accounts, how each data point type maps to Salesmanago, and the ledger
of every send (the transactional outbox)."""

import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from datatalks.crypto import EncryptedTextField
from mappings.models import (
    Category,
    Customer,
    DataPointType,
    Environment,
    FieldMapping,
    GroupKey,
)

from .salesmanago.addresses import (
    AddressRefused,
    check_account_url,
    policy_from_settings,
)
from .salesmanago.payloads import check_entry

DEFAULT_V3_URL = "https://api.salesmanago.com"


class SalesmanagoAccount(models.Model):
    """The Salesmanago account one group key's data goes to, in one environment."""

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="salesmanago_accounts"
    )
    group_key = models.ForeignKey(GroupKey, on_delete=models.CASCADE, related_name="+")
    environment = models.CharField(
        max_length=16, choices=Environment.choices, default=Environment.PRODUCTION
    )
    base_url = models.URLField(
        "server URL",
        help_text="The account's API v2 server, such as https://app3.salesmanago.com",
    )
    v3_base_url = models.URLField(
        "API v3 URL", default=DEFAULT_V3_URL, help_text="Products and catalogs."
    )
    client_id = models.CharField("clientId", max_length=100)
    api_secret = EncryptedTextField("API secret")
    v3_api_key = EncryptedTextField("API v3 key", blank=True)
    owner_email = models.EmailField(
        "owner", help_text="The account user data is owned by."
    )
    catalog_id = models.CharField("product catalog id", max_length=64, blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "Salesmanago account"
        ordering = ["customer__name", "group_key__key", "environment"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "group_key", "environment"],
                name="one_salesmanago_account_per_group_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.customer.slug}/{self.group_key.key} ({self.environment}): {self.client_id}"

    def clean(self):
        errors = {}
        if (
            self.group_key_id
            and self.customer_id
            and self.group_key.customer_id != self.customer_id
        ):
            errors["group_key"] = "This group key belongs to another customer."
        policy = policy_from_settings()
        for name in ("base_url", "v3_base_url"):
            url = getattr(self, name).rstrip("/")
            setattr(self, name, url)
            try:
                check_account_url(url, policy)
            except AddressRefused as exc:
                errors[name] = str(exc)
        if errors:
            raise ValidationError(errors)


class IntegrationMapping(models.Model):
    """How one data point type becomes a Salesmanago contact, external event or product."""

    data_point_type = models.OneToOneField(
        DataPointType, on_delete=models.CASCADE, related_name="salesmanago_mapping"
    )
    enabled = models.BooleanField(default=True)

    class Meta:
        verbose_name = "Salesmanago mapping"

    def __str__(self) -> str:
        return f"{self.data_point_type} → {TARGET_OF_CATEGORY[self.data_point_type.category]}"


TARGET_OF_CATEGORY = {
    Category.PROFILE: "contact",
    Category.EVENT: "external event",
    Category.INVENTORY: "product",
}


class EntryKind(models.TextChoices):
    STRING = "string", "String (one field to one field)"
    LIST = "list", "List (an array field)"
    DYNAMIC = "dynamic", "Dynamic (several fields through a template)"
    CONSTANT = "constant", "Constant"


class Conversion(models.TextChoices):
    NONE = "", "As stored"
    TEXT = "text", "Text"
    NUMBER = "number", "Number"
    BIRTHDAY = "birthday", "Date → yyyyMMdd"
    EPOCH_MS = "epoch_ms", "Datetime → epoch milliseconds (customer's time zone)"


class MappingEntry(models.Model):
    """One CDP field (or template, or constant) to one Salesmanago field.

    ``target`` is a dotted path in the item sent: ``contact.email``,
    ``contact.address.city``, ``birthday``, ``tags``, ``properties`` (dynamic: every
    listed field becomes a property named by ``name_template``), ``contactEvent.value``,
    ``email`` (an event's contact), ``productId``, ``customDetails.detail1``.
    ``source`` is a CDP field name, ``profile.<field>`` for the event's linked profile,
    a template such as ``{first_name} {last_name}``, a comma-separated field list for
    dynamic properties, or the constant's value.
    """

    mapping = models.ForeignKey(
        IntegrationMapping, on_delete=models.CASCADE, related_name="entries"
    )
    kind = models.CharField(
        max_length=16, choices=EntryKind.choices, default=EntryKind.STRING
    )
    source = models.CharField(max_length=500)
    target = models.CharField(max_length=200)
    conversion = models.CharField(max_length=16, choices=Conversion.choices, blank=True)
    name_template = models.CharField(
        max_length=100,
        blank=True,
        help_text="Dynamic properties: e.g. {field} or {Field}.",
    )
    position = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "mapping entry"
        verbose_name_plural = "mapping entries"
        ordering = ["mapping", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["mapping", "target"], name="one_entry_per_target"
            )
        ]

    def __str__(self) -> str:
        return f"{self.source} → {self.target}"

    def clean(self):
        category = None
        if self.mapping_id is not None:
            category = self.mapping.data_point_type.category
        try:
            check_entry(
                self.kind,
                self.source,
                self.target,
                self.conversion,
                self.name_template,
                field_types=self._field_types(),
                category=category,
            )
        except ValueError as exc:
            raise ValidationError(str(exc)) from None

    def _field_types(self) -> dict[str, str] | None:
        """CDP field -> data type of what this entry may read: its type's fields and,
        as ``profile.<field>``, those of the profile type its events refer to."""
        try:
            type_id = self.mapping.data_point_type_id
        except IntegrationMapping.DoesNotExist:
            return None
        if type_id is None:
            return None
        own = FieldMapping.objects.filter(data_point_type_id=type_id)
        types = dict(own.values_list("cdp_field", "data_type"))
        profiles = own.filter(references__isnull=False).values(
            "references__data_point_type_id"
        )
        linked = FieldMapping.objects.filter(data_point_type_id__in=profiles)
        for name, data_type in linked.values_list("cdp_field", "data_type"):
            types[f"profile.{name}"] = data_type
        return types


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    DEAD = "dead", "Dead (gave up retrying)"
    SUPERSEDED = "superseded", "Superseded by a newer revision"
    UNKNOWN = "unknown", "Outcome unknown (an event add got no answer)"
    CANCELLED = "cancelled", "Cancelled (the person was erased)"


class DeliveryKind(models.TextChoices):
    UPSERT = "upsert", "Send (create or update)"
    ERASE = "erase", "Erase (delete the contact)"


# Deliveries still open (not sent, not superseded): what the data health page and the
# outbox metrics count, and what the partial index delivery_open covers.
OPEN_STATUSES = [
    DeliveryStatus.PENDING,
    DeliveryStatus.SENDING,
    DeliveryStatus.FAILED,
    DeliveryStatus.DEAD,
    DeliveryStatus.UNKNOWN,
]


class Delivery(models.Model):
    """One revision of one data point, to one account: written with the data, in the
    same transaction, and claimed by exactly one worker before it is sent."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Neither foreign key has an index of its own: each is the first column of one
    # below (delivery_by_age, one_delivery_per_revision), which every lookup by it
    # uses; two more indexes cost each outbox row of a batch about 4 us to write.
    account = models.ForeignKey(
        SalesmanagoAccount,
        on_delete=models.CASCADE,
        related_name="deliveries",
        db_index=False,
    )
    # By name: the API (ingestion) stores data points and sits above delivery.
    data_point = models.ForeignKey(
        "ingestion.DataPoint",
        on_delete=models.CASCADE,
        related_name="deliveries",
        db_index=False,
    )
    revision = models.PositiveIntegerField()
    category = models.CharField(max_length=16, choices=Category.choices)
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    # A database default too: the outbox is written with raw INSERTs that name only
    # the columns of a send.
    kind = models.CharField(
        max_length=8,
        choices=DeliveryKind.choices,
        default=DeliveryKind.UPSERT,
        db_default=DeliveryKind.UPSERT,
    )
    # An erase delivery's contact e-mail, encrypted, kept only until Salesmanago has
    # answered: the person's values are already erased everywhere else.
    contact_email = EncryptedTextField(null=True, blank=True, editable=False)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    # Set just before the HTTP call and cleared when its outcome is recorded: a row
    # found stuck with it set was on the wire when its worker died.
    call_started_at = models.DateTimeField(null=True, blank=True)
    claim = models.UUIDField(null=True, blank=True, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)
    remote_id = models.CharField(max_length=100, blank=True)
    last_error = models.TextField(blank=True)
    request_excerpt = models.TextField(blank=True)
    response_excerpt = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "deliveries"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["data_point", "revision", "account"],
                name="one_delivery_per_revision",
            )
        ]
        indexes = [
            models.Index(
                fields=["account", "next_attempt_at"],
                condition=Q(status="pending"),
                name="delivery_due",
            ),
            models.Index(
                fields=["claimed_at"],
                condition=Q(status="sending"),
                name="delivery_in_flight",
            ),
            # The data health page: open deliveries and recent sends per account.
            models.Index(
                fields=["account", "status"],
                condition=Q(status__in=OPEN_STATUSES),
                name="delivery_open",
            ),
            models.Index(
                fields=["account", "sent_at"],
                condition=Q(status="sent"),
                name="delivery_sent",
            ),
            # Retention finds what is past its period without reading the table.
            models.Index(fields=["account", "created_at"], name="delivery_by_age"),
        ]

    def __str__(self) -> str:
        return f"{self.category} {self.data_point_id} r{self.revision} → {self.account_id}: {self.status}"


class SalesmanagoEvent(models.Model):
    """The external event Salesmanago holds for one event data point in one account.

    Its ``event_id`` is what Salesmanago answered when the event was added; every later
    revision of the data point updates that event instead of adding a second one (a
    second one would fire the account's automations again).
    """

    account = models.ForeignKey(
        SalesmanagoAccount, on_delete=models.CASCADE, related_name="+"
    )
    # By name, as Delivery's: ingestion sits above delivery.
    data_point = models.ForeignKey(
        "ingestion.DataPoint", on_delete=models.CASCADE, related_name="+"
    )
    event_id = models.CharField("eventId", max_length=100)
    revision = models.PositiveIntegerField(
        help_text="The data point's revision Salesmanago last received."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name = "Salesmanago event"
        constraints = [
            models.UniqueConstraint(
                fields=["data_point", "account"], name="one_salesmanago_event"
            )
        ]

    def __str__(self) -> str:
        return f"{self.data_point_id} → {self.account_id}: {self.event_id}"
