"""Issue 14's "Done when", end to end: signed HTTP to a live server, a real Celery
worker over a private Redis, the Salesmanago sandbox over HTTP, and pg_dump of the
test database to look for what should be gone."""

import copy
import subprocess

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.urls import reverse

from ingestion import examples
from ingestion.credentials import credential_create
from ingestion.models import DataPoint, ErasureLog
from ingestion.privacy.suppression import REFUSED
from integrations.models import Delivery, DeliveryKind
from tests.harness.delivery import Worker
from tests.harness.processes import wait_for
from tests.harness.signing import signed_session

EMAIL = "juliana.crane@fake.com"
CONTACTS = "/api/contact/batchupsert"
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def worker(broker, sandbox, tmp_path):
    process = Worker(broker.url, tmp_path / "worker.log").start()
    yield process
    process.stop()


@pytest.fixture
def http(live_server, account):
    """A signed session of the demo customer, and the API's base URL."""
    credential, secret = credential_create(customer=account.customer, description="e2e")
    session = signed_session(credential.access_key_id, secret)
    session.base = live_server.url
    session.key = credential.access_key_id
    return session


def post(http, path, body):
    return http.post(http.base + path, json=body, timeout=30)


def stored(http, path, body) -> str:
    response = post(http, path, body)
    assert response.status_code == 200, response.text
    return response.json()["datatalksId"]


def event(event_id: str) -> dict:
    body = copy.deepcopy(examples.EVENT)
    body["data"]["event_id"] = event_id
    return body


def pg_dump() -> str:
    db = connection.settings_dict
    command = ["pg_dump", "--data-only", "-h", db["HOST"] or "127.0.0.1"]
    command += ["-p", str(db["PORT"] or 5432), "-U", db["USER"], db["NAME"]]
    return subprocess.run(
        command, capture_output=True, text=True, check=True, timeout=120
    ).stdout


def statuses() -> dict[str, int]:
    counts: dict[str, int] = {}
    for status in Delivery.objects.values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return counts


def eraser_status() -> str | None:
    row = Delivery.objects.filter(kind=DeliveryKind.ERASE).first()
    return row.status if row else None


def test_erase_with_suppress_leaves_nothing_here_or_in_salesmanago(
    http, sandbox, worker
):
    dp_id = stored(http, "/v2/profiles", examples.PROFILE)
    stored(http, "/v2/events", event("E-1"))
    stored(http, "/v2/events", event("E-2"))
    wait_for(lambda: statuses() == {"sent": 3}, 90, "profile and two events")
    state = sandbox.state()
    assert [c["email"] for c in state["contacts"]] == [EMAIL]
    assert len(state["events"]) == 2
    assert EMAIL in pg_dump().lower()  # the check below can fail

    response = http.delete(f"{http.base}/v3/profiles/{dp_id}?suppress=true", timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["datatalksId"] == dp_id
    wait_for(lambda: eraser_status() == "sent", 60, "the contact's deletion")
    state = sandbox.state()
    assert state["contacts"] == [] and state["events"] == []

    dump = pg_dump().lower()
    for value in (EMAIL, "kungsbroplan", "juliana"):
        assert value not in dump, f"{value} is still in the database"

    again = post(http, "/v2/profiles", examples.PROFILE)
    assert again.status_code == 400
    assert again.json()["messages"] == [REFUSED]
    assert EMAIL not in pg_dump().lower()
    assert sandbox.state()["contacts"] == []

    [log] = ErasureLog.objects.all()
    assert (log.datatalks_id.hex, log.requested_by, log.suppressed) == (
        dp_id.replace("-", ""),
        http.key,
        True,
    )
    assert log.erased["events"] == 2
    admin = Client()
    admin.force_login(get_user_model().objects.create_superuser("root", password="x"))
    page = admin.get(reverse("admin:ingestion_erasurelog_change", args=[log.pk]))
    html = page.content.decode()
    assert dp_id in html and "demo-client" in html and ">sent<" in html
    assert DataPoint.objects.get(pk=dp_id).data == {}


def test_an_erasure_while_salesmanago_is_down_completes_once_it_is_back(
    http, sandbox, worker
):
    dp_id = stored(http, "/v2/profiles", examples.PROFILE)
    wait_for(lambda: statuses() == {"sent": 1}, 60, "the first send")
    sandbox.fail_next("503", 100_000)  # down: every call fails
    changed = copy.deepcopy(examples.PROFILE)
    changed["data"]["city"] = "Malmö"
    stored(http, "/v2/profiles", changed)  # a new revision, now retrying
    wait_for(
        lambda: Delivery.objects.filter(revision=2, attempts__gte=1).exists(),
        60,
        "the new revision's first failed attempt",
    )
    response = http.delete(f"{http.base}/v3/profiles/{dp_id}", timeout=30)
    assert response.status_code == 200
    assert Delivery.objects.get(revision=2, kind=DeliveryKind.UPSERT).status == (
        "cancelled"
    )
    wait_for(
        lambda: Delivery.objects.filter(
            kind=DeliveryKind.ERASE, status="pending", attempts__gte=2
        ).exists(),
        60,
        "the erasure retried while Salesmanago is down",
    )
    [contact] = sandbox.state()["contacts"]
    assert contact["address"]["city"] == "Stockholm"  # nothing went in between
    sandbox.clear_faults()  # Salesmanago is back
    wait_for(lambda: eraser_status() == "sent", 90, "the erasure once it is back")
    state = sandbox.state()
    assert state["contacts"] == []
    assert state["received"]["contacts"] == 1  # the cancelled revision never went
    assert Delivery.objects.get(kind=DeliveryKind.UPSERT, revision=2).status == (
        "cancelled"
    )
