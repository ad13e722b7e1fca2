"""Which Salesmanago accounts a data point goes to: compiled per customer configuration revision.

Accounts and Salesmanago mappings bump the customer's configuration revision when saved (see
integrations.signals), so the ingest path reads them without a query once warm.
"""

from dataclasses import dataclass
from functools import lru_cache

from mappings.models import Customer, DataPointType, GroupKey

from .models import IntegrationMapping, SalesmanagoAccount


@dataclass(frozen=True, slots=True)
class Routes:
    # (group key id, environment) -> ids of the enabled accounts there
    accounts: dict[tuple[int, str], tuple[int, ...]]
    # ids of the data point types with an enabled Salesmanago mapping
    mapped_types: frozenset[int]

    def accounts_for(self, *, group_key_id: int, environment: str, type_id: int):
        if type_id not in self.mapped_types:
            return ()
        return self.accounts.get((group_key_id, environment), ())


def routes_for(customer: Customer) -> Routes:
    """Where the customer's data goes, at its current configuration revision."""
    if not customer.salesmanago_enabled:
        return Routes(accounts={}, mapped_types=frozenset())
    return _compile(customer.pk, customer.config_revision)


@lru_cache(maxsize=1024)
def _compile(customer_id: int, version: int) -> Routes:
    accounts: dict[tuple[int, str], list[int]] = {}
    rows = SalesmanagoAccount.objects.filter(customer_id=customer_id, enabled=True)
    for pk, group_key_id, environment in rows.values_list(
        "pk", "group_key_id", "environment"
    ):
        accounts.setdefault((group_key_id, environment), []).append(pk)
    mapped = IntegrationMapping.objects.filter(
        data_point_type__customer_id=customer_id, enabled=True
    ).values_list("data_point_type_id", flat=True)
    return Routes(
        accounts={key: tuple(ids) for key, ids in accounts.items()},
        mapped_types=frozenset(mapped),
    )


def delivery_gaps(
    *,
    customer: Customer,
    environment: str = "production",
    type_ids: list[int] | None = None,
    group_key_ids: list[int] | None = None,
) -> list[str]:
    """Why accepted data would be stored and never sent: one sentence per gap, naming
    what is missing (the integration switch, an account, a mapping).

    Looks at the customer's active types and group keys, or only the ones given.
    """
    if not customer.salesmanago_enabled:
        return [
            f"The Salesmanago integration is off for {customer.name}: accepted data is "
            "stored and never sent (turn it on under Integrations on the customer's page)."
        ]
    keys = GroupKey.objects.filter(customer=customer)
    types = DataPointType.objects.filter(customer=customer, active=True)
    if group_key_ids is not None:
        keys = keys.filter(pk__in=group_key_ids)
    if type_ids is not None:
        types = types.filter(pk__in=type_ids)
    routes = routes_for(customer)
    gaps = [
        f"Group key {key.key} has no enabled {environment} Salesmanago account: data "
        "sent with it is stored and never sent."
        for key in keys.order_by("key")
        if not routes.accounts.get((key.pk, environment))
    ]
    mapped_with_entries = set(
        IntegrationMapping.objects.filter(
            data_point_type__in=types, enabled=True, entries__isnull=False
        ).values_list("data_point_type_id", flat=True)
    )
    gaps += [
        f"{dpt.name} has no Salesmanago mapping: its data is stored and never sent."
        for dpt in types.order_by("name")
        if dpt.pk not in routes.mapped_types or dpt.pk not in mapped_with_entries
    ]
    return gaps
