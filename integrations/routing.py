"""Which Salesmanago accounts a data point goes to: compiled per customer mapping version.

Accounts and Salesmanago mappings bump the customer's mapping version when saved (see
integrations.signals), so the ingest path reads them without a query once warm.
"""

from dataclasses import dataclass
from functools import lru_cache

from mappings.models import Customer

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
    """Where the customer's data goes, at its current mapping version."""
    if not customer.salesmanago_enabled:
        return Routes(accounts={}, mapped_types=frozenset())
    return _compile(customer.pk, customer.mapping_version)


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
