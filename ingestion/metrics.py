"""The API's metrics, counted as each answer is given (served by metrics_views.py).

``request_observe`` is called by whoever answered, next to the request log row:
``ApiView`` for its own answers, ``ApiRequestMiddleware`` for the rest. Labels are
bounded: the endpoint is the route's name (``other`` for a path no route matches),
the customer its slug, the reason a class of the status.
"""

from prometheus_client import Counter, Histogram

from .caller import ApiCaller

REQUESTS = Counter(
    "datatalks_api_requests",
    "API requests answered, by endpoint, customer, environment and status.",
    ["endpoint", "customer", "environment", "status"],
)
DURATION = Histogram(
    "datatalks_api_request_duration_seconds",
    "Time to answer an API request, by endpoint.",
    ["endpoint"],
)
REJECTIONS = Counter(
    "datatalks_api_rejections",
    "API requests refused (4xx and 5xx), by endpoint and reason class.",
    ["endpoint", "reason"],
)
RATE_LIMITED = Counter(
    "datatalks_rate_limit_refusals",
    "Requests refused with 429 by the per-key rate limit, by customer.",
    ["customer"],
)

REASONS = {
    400: "invalid",
    401: "auth",
    403: "auth",
    404: "not_found",
    405: "method",
    411: "too_large",
    413: "too_large",
    415: "media_type",
    429: "rate_limited",
    503: "unavailable",
}


def reason_class(status_code: int) -> str:
    """Why a request was refused, as a small fixed set of names."""
    if status_code in REASONS:
        return REASONS[status_code]
    return "server_error" if status_code >= 500 else "other"


def endpoint_of(request) -> str:
    match = request.resolver_match
    return (match.url_name or match.route) if match else "other"


# The labelled series of each (endpoint, customer, environment, status), looked up
# once: resolving labels costs twice the counting itself (bench/metrics_cost.py).
_series: dict[tuple, tuple] = {}


def request_observe(
    *, request, caller: ApiCaller | None, status_code: int, seconds: float
) -> None:
    """Counts one answered API request."""
    endpoint = endpoint_of(request)
    labels = (
        endpoint,
        caller.customer.slug if caller else "",
        caller.environment if caller else "",
        status_code,
    )
    series = _series.get(labels)
    if series is None:
        series = _series[labels] = _series_of(*labels)
    requests, duration, rejections = series
    requests.inc()
    duration.observe(seconds)
    if rejections is not None:
        rejections.inc()


def _series_of(endpoint: str, customer: str, environment: str, status_code: int):
    rejections = None
    if status_code >= 400:
        rejections = REJECTIONS.labels(endpoint, reason_class(status_code))
    return (
        REQUESTS.labels(endpoint, customer, environment, str(status_code)),
        DURATION.labels(endpoint),
        rejections,
    )


def rate_limit_observe(*, caller: ApiCaller) -> None:
    RATE_LIMITED.labels(caller.customer.slug).inc()
