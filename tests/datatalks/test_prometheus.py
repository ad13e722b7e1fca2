"""A real Prometheus scrapes /metrics of the API under gunicorn (two workers, so the
multiprocess sums count) and its query API reads back the ingest count and the outbox
depth after a known number of signed requests."""

import pytest

from ingestion import examples
from ingestion.credentials import credential_create
from integrations.demo import salesmanago_demo_load
from mappings.demo import demo_load
from tests.harness.faults import Gunicorn, send, server_env, shared_test_database_url
from tests.harness.processes import wait_for
from tests.harness.prometheus import PrivatePrometheus
from tests.harness.signing import signed_session

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "prometheus-test-token"
REQUESTS = 25
INGESTED = 'sum(datatalks_api_requests_total{endpoint="v3-profiles",status="200"})'
REJECTED = 'sum(datatalks_api_requests_total{endpoint="v3-profiles",status="400"})'
DEPTH = 'sum(datatalks_outbox_deliveries{status="pending"})'


def profile(n: int) -> dict:
    data = {**examples.PROFILE["data"], "customer_id": n, "email": f"p{n}@example.com"}
    return {**examples.PROFILE, "data": data}


def test_prometheus_reads_the_ingest_count_and_the_outbox_depth(
    private_redis, tmp_path
):
    customer = demo_load()
    salesmanago_demo_load(customer)  # every accepted profile gets one outbox row
    credential, secret = credential_create(customer=customer, description="metrics")
    env = server_env(
        shared_test_database_url(), private_redis.url, DATATALKS_METRICS_TOKEN=TOKEN
    )
    api = Gunicorn(env, tmp_path / "gunicorn.log", workers=2).start()
    prometheus = None
    try:
        target = api.url.removeprefix("http://")
        prometheus = PrivatePrometheus(tmp_path, target, TOKEN).start()
        wait_for(
            lambda: prometheus.scalar('up{job="datatalks"}') == 1, 30, "a first scrape"
        )
        session = signed_session(credential.access_key_id, secret)
        statuses = [
            send(session, api.url + "/v3/profiles", profile(n), n).status
            for n in range(REQUESTS)
        ]
        bad = send(session, api.url + "/v3/profiles", {"type": "person", "data": {}})
        assert statuses == [200] * REQUESTS and bad.status == 400
        wait_for(
            lambda: prometheus.scalar(INGESTED) == REQUESTS,
            30,
            f"Prometheus to count {REQUESTS} ingests",
        )
        wait_for(lambda: prometheus.scalar(DEPTH) == REQUESTS, 30, "the outbox depth")
        assert prometheus.scalar(REJECTED) == 1
    finally:
        if prometheus:
            prometheus.stop()
        api.stop()
    assert prometheus.process.poll() is not None, "prometheus is still running"
