"""Per-key rate limiting, counted per process and added up in Redis: 429 in the
envelope with Retry-After; other processes' counts are learned at the next report
(``throttling.counts_report``, which a thread runs every 0.1 s); fails open."""

import logging
import time

import pytest
import redis

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


def test_a_key_over_its_limit_in_other_processes_is_refused_after_a_report(
    limited, settings
):
    client = client_with_key(limited)
    assert (
        client.post("/v2/profiles", examples.PROFILE, format="json").status_code == 200
    )
    # other processes admitted three of this key's requests in this window
    window = int(time.time() // throttling.WINDOW_SECONDS)
    key = f"datatalks:rate:{client.key}:{window}"
    redis.Redis.from_url(settings.REDIS_URL).incrby(key, 3)
    assert client.post("/v2/profiles", examples.PROFILE, format="json").status_code in (
        200,  # this process did not know yet (a report may have come between)
        429,
    )
    throttling.counts_report()
    response = client.post("/v2/profiles", examples.PROFILE, format="json")
    assert response.status_code == 429
    assert int(redis.Redis.from_url(settings.REDIS_URL).get(key)) >= 4


def test_fails_open_with_a_warning_when_redis_is_away(limited, settings, caplog):
    client = client_with_key(limited)
    with caplog.at_level(logging.WARNING, logger="ingestion.throttling"):
        settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
        client.post("/v2/profiles", examples.PROFILE, format="json")
        throttling.counts_report()  # the report finds Redis away
        codes = [
            client.post("/v2/profiles", examples.PROFILE, format="json").status_code
            for _ in range(5)
        ]
    assert codes == [200] * 5
    assert "rate limiting is off" in caplog.text
