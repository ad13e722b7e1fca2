"""Per-key rate limiting in Redis: 429 in the envelope with Retry-After; fails open."""

import logging

import pytest

from ingestion import examples, throttling
from tests.harness.customers import signed_client


def client_with_key(customer):
    """A client signing with a new key of the customer's, so its count starts at 0."""
    return signed_client(customer)


@pytest.fixture(autouse=True)
def _close_breaker():
    throttling._breaker_until = 0.0
    yield
    throttling._breaker_until = 0.0


@pytest.fixture
def limited(demo, settings):
    if not settings.REDIS_URL:
        pytest.fail("rate limiting tests need Redis (make test provides it)")
    demo.rate_limit_per_minute = 3
    demo.save()
    return demo


def test_requests_over_the_customer_limit_get_429_with_retry_after(limited):
    client = client_with_key(limited)
    codes = [
        client.post("/v2/profiles", examples.PROFILE, format="json").status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 200]
    response = client.post("/v2/profiles", examples.PROFILE, format="json")
    assert response.status_code == 429
    body = response.json()
    assert body["success"] is False
    assert body["messages"][0].startswith("Rate limit exceeded: 3 requests per minute")
    assert 1 <= int(response["Retry-After"]) <= 60


def test_each_key_has_its_own_count(limited):
    first, second = client_with_key(limited), client_with_key(limited)
    for _ in range(3):
        first.post("/v2/profiles", examples.PROFILE, format="json")
    assert (
        first.post("/v2/profiles", examples.PROFILE, format="json").status_code == 429
    )
    assert (
        second.post("/v2/profiles", examples.PROFILE, format="json").status_code == 200
    )


def test_default_limit_applies_without_a_customer_limit(demo, settings):
    settings.DATATALKS_RATE_LIMIT_PER_MINUTE = 2
    client = client_with_key(demo)
    codes = [
        client.post("/v2/profiles", examples.PROFILE, format="json").status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 429]


def test_fails_open_with_a_warning_when_redis_is_away(limited, settings, caplog):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    client = client_with_key(limited)
    with caplog.at_level(logging.WARNING, logger="ingestion.throttling"):
        codes = [
            client.post("/v2/profiles", examples.PROFILE, format="json").status_code
            for _ in range(5)
        ]
    assert codes == [200] * 5
    assert "rate limiting is off" in caplog.text
