"""Who is calling: the one object the API's views learn the customer from."""

from dataclasses import dataclass

from mappings.models import Customer


@dataclass(frozen=True, slots=True)
class ApiCaller:
    """An authenticated API caller: a customer's key in one environment."""

    customer: Customer
    environment: str
    access_key_id: str

    # DRF and Django treat request.user as a user; these make the caller one.
    is_authenticated = True
    is_anonymous = False
    is_active = True
    pk = None
