"""Reads for a person's data on request: everything stored for one profile."""

import uuid
from typing import Any

from django.db.models import Max

from datatalks.errors import NotFound
from integrations.models import Delivery, DeliveryKind
from mappings.models import Category, Customer

from ..models import DataPoint, SecondaryIdentifier

# An export lists at most this many linked events (newest first) and says how many
# there are: a person with a million events is answered in bounded memory.
EXPORT_MAX_EVENTS = 10_000


def profile_of(
    queryset, *, customer: Customer, environment: str, datatalks_id: uuid.UUID
) -> DataPoint:
    """One of the customer's profiles in ``environment``, read through ``queryset``.

    Raises NotFound, with the same answer for an unknown id and another customer's (no
    leak), for anything else.
    """
    profile = queryset.filter(
        pk=datatalks_id,
        customer=customer,
        environment=environment,
        data_point_type__category=Category.PROFILE,
    ).first()
    if profile is None:
        raise NotFound(f"datatalksId: {datatalks_id} is not a profile of yours")
    return profile


def profile_export(
    *, customer: Customer, environment: str, datatalks_id: uuid.UUID
) -> dict[str, Any]:
    """What is stored for one of the customer's profiles: its values, secondary ids,
    linked events and, per Salesmanago account, whether and when it was sent.

    Raises NotFound for an id that is not one of the customer's profiles.
    """
    profile = profile_of(
        DataPoint.objects.select_related("data_point_type", "group_key"),
        customer=customer,
        environment=environment,
        datatalks_id=datatalks_id,
    )
    events = DataPoint.objects.filter(profile=profile).select_related("data_point_type")
    return {
        "type": profile.data_point_type.name,
        "groupKey": profile.group_key.key,
        "createdAt": profile.created_at,
        "updatedAt": profile.updated_at,
        "erasedAt": profile.erased_at,
        "values": profile.data,
        "secondaryIds": [
            {"kind": kind, "value": value}
            for kind, value in SecondaryIdentifier.objects.filter(
                data_point=profile
            ).values_list("kind", "value")
        ],
        "eventsTotal": events.count(),
        "events": [
            {
                "datatalksId": str(e.pk),
                "type": e.data_point_type.name,
                "createdAt": e.created_at,
                "values": e.data,
            }
            for e in events.order_by("-created_at")[:EXPORT_MAX_EVENTS]
        ],
        "salesmanago": _sent(profile),
    }


def _sent(profile: DataPoint) -> list[dict[str, Any]]:
    """Per account the profile was routed to: whether and when it was last sent, and
    whether its contact was erased there."""
    rows = (
        Delivery.objects.filter(data_point=profile)
        .values("account__client_id", "account__environment", "kind")
        .annotate(last=Max("sent_at"))
        .order_by("account__client_id")
    )
    accounts: dict[str, dict[str, Any]] = {}
    for row in rows:
        account = accounts.setdefault(
            row["account__client_id"],
            {
                "clientId": row["account__client_id"],
                "environment": row["account__environment"],
                "sent": False,
                "sentAt": None,
                "erasedAt": None,
            },
        )
        if row["kind"] == DeliveryKind.ERASE:
            account["erasedAt"] = row["last"]
        elif row["last"] is not None:
            account["sent"], account["sentAt"] = True, row["last"]
    return list(accounts.values())
