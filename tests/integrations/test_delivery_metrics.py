"""A worker-only node's metrics: the Celery worker serves what its pool processes
counted (deliveries by outcome, delivery lag, Salesmanago calls by answer) on
DATATALKS_WORKER_METRICS_PORT, on loopback by default."""

import copy

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from ingestion import examples
from integrations.demo import salesmanago_demo_load
from integrations.models import Delivery
from mappings.demo import demo_load
from tests.harness.customers import signed_client
from tests.harness.delivery import Worker
from tests.harness.processes import free_port, wait_for

CONTACTS = "/api/contact/batchupsert"
pytestmark = pytest.mark.django_db(transaction=True)


def samples(url: str) -> dict:
    text = requests.get(url, timeout=5).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_the_worker_serves_its_delivery_and_salesmanago_metrics(
    broker, sandbox, tmp_path
):
    account = salesmanago_demo_load(demo_load())
    account.base_url = account.v3_base_url = sandbox.url
    account.save()
    sandbox.fail_next("503", 2, paths=[CONTACTS])
    port = free_port()
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    worker = Worker(
        broker.url,
        tmp_path / "worker.log",
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        DATATALKS_WORKER_METRICS_PORT=str(port),
    ).start()
    try:
        client = signed_client(account.customer)
        for n in range(3):
            body = copy.deepcopy(examples.PROFILE)
            body["data"].update(customer_id=500 + n, email=f"m{n}@fake.com")
            assert client.post("/v3/profiles", body, format="json").status_code == 200
        wait_for(
            lambda: set(Delivery.objects.values_list("status", flat=True)) == {"sent"},
            90,
            "three deliveries",
        )
        url = f"http://127.0.0.1:{port}/metrics"
        wait_for(
            lambda: (
                samples(url).get(
                    (
                        "datatalks_deliveries_total",
                        (("account", str(account.pk)), ("outcome", "sent")),
                    )
                )
                == 3
            ),
            10,
            "the sent count",
        )
        found = samples(url)
    finally:
        worker.stop()
    account_label = ("account", str(account.pk))
    assert found[("datatalks_delivery_lag_seconds_count", (account_label,))] == 3
    requeued = ("datatalks_deliveries_total", (account_label, ("outcome", "requeued")))
    assert found[requeued] >= 2
    calls = "datatalks_salesmanago_calls_total"
    assert found[(calls, (("call", "contacts"), ("code", "503")))] == 2
    assert found[(calls, (("call", "contacts"), ("code", "200")))] >= 1
