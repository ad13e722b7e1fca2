"""The onboarding checklist: what a new customer needs before its data reaches
Salesmanago, each step with its state and the admin page that does it.

Read-only (selectors); the customer's admin page shows it. Every step is one small
indexed query, so the page stays fast for a customer with years of data.
"""

from dataclasses import dataclass
from urllib.parse import urlencode

from django.db.models import Exists, OuterRef
from django.urls import reverse

from integrations.models import Delivery, DeliveryStatus, IntegrationMapping
from integrations.routing import delivery_gaps
from mappings.models import Customer, FieldMapping

from .models import ApiCredential, DataPoint, Environment


@dataclass(frozen=True)
class Step:
    """One step of the checklist: done or not, what it found, where to do it."""

    key: str
    title: str
    done: bool
    detail: str
    link: str
    link_label: str


def _url(name: str, *args, **query) -> str:
    url = reverse(f"admin:{name}", args=args)
    return f"{url}?{urlencode(query)}" if query else url


def onboarding_checklist(*, customer: Customer) -> list[Step]:
    """The steps from an empty customer to its first delivery, in order."""
    return [
        _group_keys(customer),
        _types(customer),
        _api_key(customer),
        _accounts(customer),
        _mappings(customer),
        _tried(customer),
        _first_data(customer),
        _first_delivery(customer),
    ]


def _group_keys(customer) -> Step:
    keys = list(customer.group_keys.order_by("key").values_list("key", "is_default"))
    default = next((key for key, is_default in keys if is_default), None)
    detail = (
        f"{len(keys)} group key{'s' if len(keys) != 1 else ''}, default {default}"
        if default
        else "No default group key yet."
    )
    return Step(
        "group_keys",
        "Group keys",
        default is not None,
        detail,
        _url("mappings_customer_change", customer.pk) + "#group_keys-group",
        "Edit group keys",
    )


def _types(customer) -> Step:
    has_hard_id = Exists(
        FieldMapping.objects.filter(data_point_type=OuterRef("pk"), hard_id=True)
    )
    names = list(
        customer.data_point_types.filter(has_hard_id, active=True)
        .order_by("name")
        .values_list("name", flat=True)
    )
    detail = ", ".join(names) if names else "No active type with a Hard-ID yet."
    return Step(
        "types",
        "Data point types with Hard-IDs",
        bool(names),
        detail,
        _url("mappings_datapointtype_import_new", customer=customer.pk),
        "Create a type from a sample",
    )


def _api_key(customer) -> Step:
    keys = ApiCredential.objects.filter(customer=customer, active=True)
    production = keys.filter(environment=Environment.PRODUCTION).count()
    staging = keys.filter(environment=Environment.STAGING).count()
    detail = (
        f"{production} production, {staging} staging"
        if production or staging
        else "No active key yet (or `manage.py create_api_key " + customer.slug + "`)."
    )
    return Step(
        "api_key",
        "API key issued",
        production + staging > 0,
        detail,
        _url("ingestion_apicredential_add", customer=customer.pk),
        "Create an API key",
    )


def _accounts(customer) -> Step:
    gaps = [g for g in delivery_gaps(customer=customer, type_ids=[]) if g]
    first_missing = (
        customer.group_keys.exclude(
            pk__in=customer.salesmanago_accounts.filter(
                enabled=True, environment=Environment.PRODUCTION
            ).values("group_key_id")
        )
        .order_by("key")
        .first()
    )
    query = {"customer": customer.pk}
    if first_missing is not None:
        query["group_key"] = first_missing.pk
    return Step(
        "accounts",
        "A Salesmanago account per group key",
        not gaps,
        " ".join(gaps) or "Every group key has an enabled production account.",
        _url("integrations_salesmanagoaccount_add", **query),
        "Add a Salesmanago account",
    )


def _mappings(customer) -> Step:
    active = customer.data_point_types.filter(active=True).order_by("name")
    mapped = set(
        IntegrationMapping.objects.filter(
            data_point_type__in=active, enabled=True, entries__isnull=False
        ).values_list("data_point_type_id", flat=True)
    )
    missing = [dpt for dpt in active if dpt.pk not in mapped]
    if missing:
        link = _url(
            "integrations_integrationmapping_add", data_point_type=missing[0].pk
        )
        label = f"Map {missing[0].name} to Salesmanago"
        detail = "Not mapped: " + ", ".join(dpt.name for dpt in missing)
    else:
        link = _url(
            "integrations_integrationmapping_changelist",
            data_point_type__customer__id__exact=customer.pk,
        )
        label, detail = "Salesmanago mappings", "Every active type is mapped."
    done = bool(active) and not missing
    return Step("mappings", "A Salesmanago mapping per type", done, detail, link, label)


def _tried(customer) -> Step:
    when = customer.payload_tried_at
    return Step(
        "tried",
        "A payload tried",
        when is not None,
        f"First accepted try {when:%Y-%m-%d %H:%M} UTC" if when else "Not tried yet.",
        _url("mappings_customer_try", customer=customer.pk),
        "Try a payload",
    )


def _first_data(customer) -> Step:
    arrived = DataPoint.objects.filter(customer=customer).exists()
    return Step(
        "first_data",
        "First data received",
        arrived,
        "Data has arrived." if arrived else "Nothing accepted yet.",
        _url("ingestion_requestlog_changelist", customer__id__exact=customer.pk),
        "API requests",
    )


def _first_delivery(customer) -> Step:
    sent = Delivery.objects.filter(
        account__customer=customer, status=DeliveryStatus.SENT
    ).exists()
    return Step(
        "first_delivery",
        "First delivery sent",
        sent,
        "Salesmanago has received data." if sent else "Nothing sent yet.",
        _url(
            "integrations_delivery_changelist", account__customer__id__exact=customer.pk
        ),
        "Deliveries",
    )
