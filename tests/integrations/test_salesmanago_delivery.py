"""Delivery end to end: the API stores, a real Celery worker (over a real Redis broker)
sends to the Salesmanago sandbox over HTTP on loopback, and nothing is lost or doubled."""

import copy
from functools import partial

import pytest

from ingestion import examples
from ingestion.credentials import credential_create
from integrations.demo import entry_create
from integrations.models import Delivery, IntegrationMapping
from mappings.models import DataPointType, FieldMapping
from tests.harness.customers import reference_person, signed_client
from tests.harness.processes import wait_for

CONTACTS = "/api/contact/batchupsert"
pytestmark = pytest.mark.django_db(transaction=True)


def client_for(account, environment="production"):
    return signed_client(account.customer, environment)


def _person(customer_id: int, **data) -> dict:
    """A person with only an id, an email and ``data`` (None values left out)."""
    values = {
        "customer_id": customer_id,
        "first_name": "N",
        "last_name": "N",
        "email": f"n{customer_id}@fake.com",
        **data,
    }
    return {
        "type": "person",
        "groupKey": "main_group",
        "data": {k: v for k, v in values.items() if v is not None},
    }


def ingest(client, path: str, body: dict) -> str:
    response = client.post(path, body, format="json")
    assert response.status_code == 200, response.json()
    return response.json()["datatalksId"]


def statuses() -> dict[str, int]:
    counts: dict[str, int] = {}
    for status in Delivery.objects.values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return counts


def all_sent(expected: int):
    return lambda: statuses() == {"sent": expected}


REFERENCE = {
    "/v2/profiles": examples.PROFILE,
    "/v2/events": examples.EVENT,
    "/v2/inventory": examples.INVENTORY,
}


def delivered(account, start_worker, *paths: str):
    """With a worker running, sends the reference body of each path and waits until
    every delivery is sent; the client that sent them."""
    start_worker()
    client = client_for(account)
    for path in paths:
        ingest(client, path, REFERENCE[path])
    wait_for(all_sent(len(paths)), 60, f"{len(paths)} deliveries")
    return client


def test_person_purchase_and_product_arrive_with_mapped_values(
    account, sandbox, start_worker
):
    delivered(account, start_worker, "/v2/profiles", "/v2/events", "/v2/inventory")
    state = sandbox.state()
    [contact] = state["contacts"]
    assert contact["email"] == "juliana.crane@fake.com"
    assert contact["name"] == "Juliana Crane"
    assert contact["address"]["city"] == "Stockholm"
    assert contact["properties"] == {"age": "32", "is_member": "true"}
    [event] = state["events"]
    assert event["contactId"] == contact["contactId"]
    assert event["contactExtEventType"] == "PURCHASE"
    assert event["value"] == 123.75
    assert event["externalId"] == "848ASHC382392AHSJA"
    assert event["date"] == 1616063724000
    assert event["detail1"] == "Debit Card"
    [product] = state["products"]
    assert product["productId"] == "AB-192910"
    assert product["name"] == "Milk"
    assert product["mainCategory"] == "Dairy Products"
    assert product["customDetails"]["detail1"] == "Milky"


def test_event_waits_for_its_contact(account, sandbox, start_worker):
    start_worker()
    client = client_for(account)
    ingest(client, "/v2/events", examples.EVENT)
    wait_for(
        lambda: Delivery.objects.filter(last_error__startswith="Waiting").exists(),
        30,
        "the wait",
    )
    assert sandbox.state()["events"] == []
    ingest(client, "/v2/profiles", examples.PROFILE)
    wait_for(all_sent(2), 60, "contact, then event")
    assert len(sandbox.state()["events"]) == 1


def test_a_changed_purchase_reaches_salesmanago_as_an_update(
    account, sandbox, start_worker
):
    client = delivered(account, start_worker, "/v2/profiles", "/v2/events")
    [added] = sandbox.state()["events"]
    changed = copy.deepcopy(examples.EVENT)
    changed["data"]["total_purchase_amount"] = "80.00"
    ingest(client, "/v2/events", changed)
    wait_for(lambda: sandbox.state()["event_updates"], 60, "the update")
    state = sandbox.state()
    [updated] = state["events"]
    assert (updated["eventId"], updated["value"]) == (added["eventId"], 80.0)
    assert state["event_items"] == [examples.EVENT["data"]["event_id"]]
    assert state["calls"]["/api/v2/contact/addContactExtEvent"] == 1
    assert state["calls"]["/api/v2/contact/updateContactExtEvent"] == 1


def test_three_503s_then_delivered_on_the_fourth_attempt_once(
    account, sandbox, start_worker
):
    sandbox.fail_next("503", 3, paths=[CONTACTS])
    delivered(account, start_worker, "/v2/profiles")
    assert Delivery.objects.get().attempts == 4
    state = sandbox.state()
    assert state["calls"][CONTACTS] == 4
    assert state["received"]["contacts"] == 1


def test_success_false_fails_permanently_without_retries(
    account, sandbox, start_worker
):
    sandbox.fail_next("success_false", 1, message="Not authenticated", paths=[CONTACTS])
    start_worker()
    ingest(client_for(account), "/v2/profiles", examples.PROFILE)
    wait_for(lambda: statuses() == {"failed": 1}, 30, "the failure")
    delivery = Delivery.objects.get()
    assert delivery.last_error == "Not authenticated"
    assert delivery.attempts == 1
    assert "demo-secret" not in delivery.request_excerpt + delivery.response_excerpt
    ingest(
        client_for(account), "/v2/profiles", reference_person(2, email="other@fake.com")
    )
    wait_for(lambda: statuses().get("sent") == 1, 30, "a later delivery")
    assert sandbox.state()["calls"][CONTACTS] == 2  # the failed one was not retried


def test_broker_outage_delays_but_loses_nothing(account, sandbox, broker, start_worker):
    start_worker()
    client = client_for(account)
    broker.stop()
    for n in range(50):
        ingest(
            client, "/v2/profiles", reference_person(1000 + n, email=f"p{n}@fake.com")
        )
    assert Delivery.objects.filter(status="pending").count() == 50
    broker.start()
    wait_for(all_sent(50), 120, "50 deliveries after the broker came back")
    state = sandbox.state()
    assert state["received"]["contacts"] == 50
    assert len({c["email"] for c in state["contacts"]}) == 50


def test_worker_killed_during_a_batch_sends_each_delivery_once(
    account, sandbox, start_worker
):
    # The sandbox holds the first batch call for 5 s without handling it; the worker is
    # killed while it waits. The next worker's sweeper finds the stalled sends.
    sandbox.fail_next("timeout", 1, delay=5, paths=[CONTACTS])
    env = {
        "DATATALKS_DELIVERY_TASK_TIME_LIMIT_SECONDS": "8",
        "DATATALKS_DELIVERY_STUCK_SECONDS": "10",
    }
    first = start_worker(**env)
    client = client_for(account)
    for n in range(20):
        ingest(
            client, "/v2/profiles", reference_person(2000 + n, email=f"k{n}@fake.com")
        )
    wait_for(lambda: sandbox.state()["calls"].get(CONTACTS), 30, "the batch call")
    first.kill()
    assert Delivery.objects.filter(status="sent").count() == 0
    start_worker(**env)
    wait_for(all_sent(20), 90, "20 deliveries after the kill")
    state = sandbox.state()
    assert state["received"]["contacts"] == 20
    assert sorted(c["email"] for c in state["contacts"]) == sorted(
        f"k{n}@fake.com" for n in range(20)
    )


def test_staging_data_never_reaches_the_production_account(
    account, sandbox, start_worker
):
    start_worker()
    ingest(client_for(account, "staging"), "/v2/profiles", examples.PROFILE)
    ingest(
        client_for(account), "/v2/profiles", reference_person(2, email="prod@fake.com")
    )
    wait_for(all_sent(1), 30, "the production delivery")
    assert [c["email"] for c in sandbox.state()["contacts"]] == ["prod@fake.com"]
    assert not Delivery.objects.filter(data_point__environment="staging").exists()


def _legacy_entry(type_name: str, *entry, customer) -> None:
    """A mapping entry saved as it could be before entries were checked on save
    (objects.create runs no validation)."""
    mapping, _ = IntegrationMapping.objects.get_or_create(
        data_point_type=customer.data_point_types.get(name=type_name)
    )
    entry_create(mapping, 99, entry)


def _profile_type(customer, name: str) -> None:
    """A profile type with a Hard-ID, an email and an age (each poison its own type,
    since a mapping has one property-name template)."""
    kind = DataPointType.objects.create(
        customer=customer, category="profile", name=name
    )
    for position, (field, data_type, hard_id) in enumerate(
        [
            ("customer_id", "integer", True),
            ("email", "email", False),
            ("age", "integer", False),
        ]
    ):
        FieldMapping.objects.create(
            data_point_type=kind,
            source_field=field,
            cdp_field=field,
            data_type=data_type,
            hard_id=hard_id,
            optional=not hard_id,
            position=position,
        )
    kind.active = True
    kind.save()
    _legacy_entry(name, "string", "email", "contact.email", "", "", customer=customer)


# Each value the security review fed a number conversion; each name template.
POISON_NUMBERS = ["abc", "12,50", "Infinity", "NaN", "1e2000000", "١٢٣"]
POISON_TEMPLATES = {
    "poison_a": "{name}",
    "poison_b": "{0}",
    "poison_c": "{field:>50000000}",
}


def test_poison_values_fail_alone_and_their_neighbours_are_delivered(
    account, sandbox, start_worker, live_server, signed_post
):
    customer = account.customer
    person = partial(_legacy_entry, "person", customer=customer)
    person("string", "city", "properties.score", "number", "")
    person("string", "is_member", "properties.flag", "number", "")
    person("string", "tags", "properties.count", "number", "")
    for name, template in POISON_TEMPLATES.items():
        _profile_type(customer, name)
        _legacy_entry(
            name, "dynamic", "age", "properties", "", template, customer=customer
        )
    credential, secret = credential_create(customer=customer)
    key = credential.access_key_id
    bodies = {
        f"number {v!r}": _person(100 + n, city=v) for n, v in enumerate(POISON_NUMBERS)
    }
    bodies["number true"] = _person(200, is_member="Yes")
    bodies["number of a list"] = _person(201, tags=["a", "b"])
    for n, name in enumerate(POISON_TEMPLATES):
        bodies[f"template {POISON_TEMPLATES[name]}"] = {
            "type": name,
            "groupKey": "main_group",
            "data": {"customer_id": 300 + n, "email": f"t{n}@fake.com", "age": 30},
        }
    neighbours = [_person(400 + n, city="42" if n == 0 else None) for n in range(5)]
    start_worker()
    ids = {}
    for what, body in [
        *bodies.items(),
        *((f"neighbour {n}", b) for n, b in enumerate(neighbours)),
    ]:
        answer = signed_post(live_server.url + "/v2/profiles", body, key, secret)
        assert answer.status_code == 200, answer.text
        ids[what] = answer.json()["datatalksId"]
    wait_for(
        lambda: not Delivery.objects.filter(status__in=["pending", "sending"]).exists(),
        60,
        "every delivery to end",
    )
    outcome = {
        what: Delivery.objects.values_list("status", "last_error").get(data_point_id=i)
        for what, i in ids.items()
    }
    for what in bodies:
        status, error = outcome[what]
        assert status == "failed", (what, outcome[what])
        assert error.startswith("Not sent: "), (what, error)
        assert len(error) < 300, (what, len(error))
    for n in range(5):
        assert outcome[f"neighbour {n}"] == ("sent", ""), outcome
    contacts = {c["email"]: c for c in sandbox.state()["contacts"]}
    assert sorted(contacts) == sorted(f"n{400 + n}@fake.com" for n in range(5))
    assert contacts["n400@fake.com"]["properties"]["score"] == 42
