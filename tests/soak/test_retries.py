"""A client retries every request once, as one does after a timeout: the identical
request again, half of them before the first one's data reached Salesmanago and half
after. The Hard-ID is the idempotency key, so a retry stores nothing new and sends
nothing: Salesmanago gets exactly one add per event and one upsert per contact.
Signed requests to gunicorn, a Celery worker, the sandbox; loopback only, bounded.
"""

import time
from collections import Counter

import pytest

from ingestion.credentials import credential_create
from ingestion.models import DataPoint
from integrations.models import Delivery
from integrations.salesmanago.client import EVENT_ADD_PATH, EVENT_UPDATE_PATH
from tests.harness.customers import demo_person, demo_purchase
from tests.harness.delivery import Worker
from tests.harness.faults import (
    Gunicorn,
    record_figures,
    send,
    server_env,
    shared_test_database_url,
)
from tests.harness.processes import wait_for
from tests.harness.signing import signed_session

pytestmark = pytest.mark.django_db(transaction=True)

MAX_SECONDS = 300


def delivered(datatalks_id: str) -> bool:
    return Delivery.objects.filter(data_point_id=datatalks_id, status="sent").exists()


def settled() -> bool:
    return not Delivery.objects.exclude(status="sent").exists()


def test_every_request_retried_once_short(
    account, sandbox, private_redis, servers, tmp_path
):
    run(account, sandbox, private_redis, servers, tmp_path, pairs=20, test="short")


@pytest.mark.slow
def test_every_request_retried_once_sends_each_event_once(
    account, sandbox, private_redis, servers, tmp_path
):
    # A person and its purchase each: 500 requests, then 500 retries.
    run(account, sandbox, private_redis, servers, tmp_path, pairs=250, test="soak")


def run(account, sandbox, private_redis, servers, tmp_path, *, pairs, test):
    env = server_env(shared_test_database_url(), private_redis.url)
    api = servers(Gunicorn(env, tmp_path / "gunicorn.log"))
    servers(Worker(private_redis.url, tmp_path / "worker.log"))
    credential, secret = credential_create(customer=account.customer)
    session = signed_session(credential.access_key_id, secret)
    deadline = time.monotonic() + MAX_SECONDS
    retries, later = [], []
    for n in range(1, pairs + 1):
        for path, body in (
            ("/v3/profiles", demo_person(n, "r")),
            ("/v3/events", demo_purchase(n, "rt")),
        ):
            first = send(session, api.url + path, body)
            assert first.status == 200, first
            if n % 2:  # retried at once: before its data is delivered
                before = not delivered(first.body["datatalksId"])
                retries.append((before, first, send(session, api.url + path, body)))
            else:
                later.append((path, body, first))
        assert time.monotonic() < deadline, "the test ran out of time"
    for path, body, first in later:  # retried once its data is in Salesmanago
        wait_for(lambda f=first: delivered(f.body["datatalksId"]), 60, "a delivery")
        retries.append((False, first, send(session, api.url + path, body)))
    wait_for(settled, 120, "every delivery to end", interval=0.5)
    time.sleep(2)  # room for a send a retry might (wrongly) have caused
    check(sandbox, retries, pairs, test)


def check(sandbox, retries, pairs: int, test: str):
    state = sandbox.state()
    adds = Counter(state["event_items"])
    contacts = [c["email"] for c in state["contacts"]]
    expected = {f"RT-{n}" for n in range(1, pairs + 1)}
    same = [
        r
        for _, f, r in retries
        if r.status == 200 and r.body["datatalksId"] == f.body["datatalksId"]
    ]
    record_figures(
        f"every request retried once ({test})",
        requests=2 * len(retries),
        server_errors=sum(
            1 for _, f, r in retries for o in (f, r) if (o.status or 500) >= 500
        ),
        faults=len(retries),
        expected=2 * pairs,
        sent=len(set(contacts)) + len(set(adds) & expected),
        duplicated=state["received"]["contacts"]
        - len(set(contacts))
        + sum(count - 1 for count in adds.values()),
        lost=2 * pairs - len(set(contacts)) - len(set(adds) & expected),
        retried_before_delivery=sum(before for before, _, _ in retries),
        retried_after_delivery=sum(not before for before, _, _ in retries),
        event_adds_per_event=sorted(set(adds.values())),
        event_updates=len(state["event_updates"]),
        deliveries=Delivery.objects.count(),
    )
    # Each retry answered as the first did: 200, the same Datatalks ID.
    assert len(same) == len(retries) == 2 * pairs
    assert sum(before for before, _, _ in retries) >= pairs // 2
    # Stored once: no revision, no delivery from a retry.
    assert DataPoint.objects.count() == 2 * pairs
    assert not DataPoint.objects.filter(revision__gt=1).exists()
    assert Delivery.objects.count() == 2 * pairs
    # Salesmanago: exactly one add per event, no update, one upsert per contact.
    assert set(adds) == expected and set(adds.values()) == {1}
    assert state["calls"][EVENT_ADD_PATH] == pairs
    assert EVENT_UPDATE_PATH not in state["calls"]
    assert sorted(contacts) == sorted(f"r{n}@load.example" for n in range(1, pairs + 1))
    assert state["received"]["contacts"] == pairs
