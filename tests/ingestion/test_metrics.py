"""GET /metrics: only for a bearer of the token; counts each answer by endpoint,
customer, environment and status; reads the outbox from the database when scraped."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ingestion import examples
from integrations.demo import salesmanago_demo_load
from integrations.models import Delivery

TOKEN = "metrics-token-for-tests"


@pytest.fixture
def metrics_on(settings):
    settings.DATATALKS_METRICS_TOKEN = TOKEN


def scrape(client) -> dict:
    """Every sample of /metrics as {(name, sorted labels): value}."""
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_answer_404_without_a_token(client, db, settings):
    settings.DATATALKS_METRICS_TOKEN = ""
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything")
    assert response.status_code == 404
    assert response.json()["success"] is False


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", TOKEN])
def test_metrics_refuse_a_missing_or_wrong_token(client, db, metrics_on, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.get("/metrics", **extra)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert TOKEN not in response.content.decode()


def test_each_answer_is_counted_by_endpoint_customer_environment_and_status(
    client, api, demo, metrics_on
):
    labels = {
        "endpoint": "v3-profiles",
        "customer": demo.slug,
        "environment": "production",
    }
    before = scrape(client)
    for _ in range(3):
        assert (
            api.post("/v3/profiles", examples.PROFILE, format="json").status_code == 200
        )
    bad = api.post("/v3/profiles", {"type": "person", "data": {}}, format="json")
    assert bad.status_code == 400
    after = scrape(client)
    name = "datatalks_api_requests_total"
    assert (
        value(after, name, **labels, status="200")
        - value(before, name, **labels, status="200")
        == 3
    )
    assert (
        value(after, name, **labels, status="400")
        - value(before, name, **labels, status="400")
        == 1
    )
    rejections = "datatalks_api_rejections_total"
    invalid = {"endpoint": "v3-profiles", "reason": "invalid"}
    assert (
        value(after, rejections, **invalid) - value(before, rejections, **invalid) == 1
    )
    count = "datatalks_api_request_duration_seconds_count"
    assert (
        value(after, count, endpoint="v3-profiles")
        - value(before, count, endpoint="v3-profiles")
        == 4
    )


def test_unsigned_requests_are_counted_as_auth_refusals(client, db, metrics_on):
    before = scrape(client)
    assert client.post("/v3/profiles", {}, content_type="application/json").status_code
    after = scrape(client)
    name = "datatalks_api_rejections_total"
    labels = {"endpoint": "v3-profiles", "reason": "auth"}
    assert value(after, name, **labels) - value(before, name, **labels) == 1


def test_rate_limit_refusals_are_counted_per_customer(client, api, demo, metrics_on):
    demo.rate_limit_per_minute = 1
    demo.save()
    before = scrape(client)
    codes = [
        api.post("/v3/profiles", examples.PROFILE, format="json").status_code
        for _ in range(4)
    ]
    # One a minute: a minute may turn once during the four, so two or three are
    # refused.
    assert set(codes) == {200, 429} and codes.count(429) >= 2, codes
    after = scrape(client)
    name = "datatalks_rate_limit_refusals_total"
    assert value(after, name, customer=demo.slug) - value(
        before, name, customer=demo.slug
    ) == codes.count(429)


def test_the_outbox_is_read_from_the_database_when_scraped(
    client, api, demo, metrics_on
):
    account = salesmanago_demo_load(demo)
    for n in range(4):
        body = {**examples.PROFILE, "data": {**examples.PROFILE["data"]}}
        body["data"]["customer_id"] = 9000 + n
        assert api.post("/v3/profiles", body, format="json").status_code == 200
    pending = Delivery.objects.filter(account=account, status="pending").count()
    assert pending == 4
    samples = scrape(client)
    depth = "datatalks_outbox_deliveries"
    assert value(samples, depth, account=str(account.pk), status="pending") == 4
    assert value(samples, depth, account=str(account.pk), status="dead") == 0
    age = "datatalks_outbox_oldest_pending_age_seconds"
    assert value(samples, age, account=str(account.pk)) > 0
    assert value(samples, "datatalks_outbox_up") == 1
    info = {
        "account": str(account.pk),
        "customer": demo.slug,
        "environment": account.environment,
        "client_id": account.client_id,
    }
    assert value(samples, "datatalks_salesmanago_account_info", **info) == 1


def test_salesmanago_calls_are_counted_by_call_and_answer(
    client, db, metrics_on, sandbox_client
):
    before = scrape(client)
    contact = {"contact": {"email": "metrics@example.com", "name": "Metrics"}}
    sandbox_client.upsert_contacts([contact])
    after = scrape(client)
    name = "datatalks_salesmanago_calls_total"
    labels = {"call": "contacts", "code": "200"}
    assert value(after, name, **labels) - value(before, name, **labels) == 1
    count = "datatalks_salesmanago_call_duration_seconds_count"
    assert (
        value(after, count, call="contacts") - value(before, count, call="contacts")
        == 1
    )
