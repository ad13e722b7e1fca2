"""Metrics of the calls to Salesmanago, counted by the client as each call ends."""

from prometheus_client import Counter, Histogram

CALL_DURATION = Histogram(
    "datatalks_salesmanago_call_duration_seconds",
    "Time of one call to Salesmanago, by call.",
    ["call"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
CALLS = Counter(
    "datatalks_salesmanago_calls",
    "Calls to Salesmanago, by call and answer: the HTTP status, or the transport "
    "error's name (ReadTimeout, ConnectionError, refused) when none came.",
    ["call", "code"],
)
CALL_NAMES = {
    "/api/contact/basic": "contact_basic",
    "/api/contact/batchupsert": "contacts",
    "/api/v2/contact/addBatchContactExtEvent": "events",
    "/v3/product/upsert": "products",
}


def call_observe(*, path: str, code: str, seconds: float) -> None:
    call = CALL_NAMES.get(path, "other")
    CALL_DURATION.labels(call).observe(seconds)
    CALLS.labels(call, code).inc()
