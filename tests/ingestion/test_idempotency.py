"""The Hard-ID is the idempotency key: a request identical to what is stored for its
Hard-ID answers with the same Datatalks ID and changes nothing (no revision, no
delivery); a changed one makes a new revision and its outbox rows, as always."""

import copy

import pytest
from django.urls import reverse

from ingestion import examples
from ingestion.models import DataPoint, RequestLog, SecondaryIdentifier
from integrations.demo import salesmanago_demo_load
from integrations.models import Delivery


@pytest.fixture(autouse=True)
def account(demo, sandbox, settings):
    """The demo customer's Salesmanago account (its outbox rows are what is counted);
    nothing is sent: no worker runs."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    account = salesmanago_demo_load(demo)
    account.base_url = account.v3_base_url = sandbox.url
    account.save()
    return account


def person(customer_id=12345, **data):
    body = copy.deepcopy(examples.PROFILE)
    body["data"].update(customer_id=customer_id, **data)
    return body


def accepted(response) -> str:
    assert response.status_code == 200, response.json()
    return response.json()["datatalksId"]


def changed_flags() -> list[bool | None]:
    return list(
        RequestLog.objects.order_by("created_at").values_list("changed", flat=True)
    )


def test_identical_request_makes_no_revision_and_no_delivery(api):
    first = accepted(api.post("/v2/profiles", person(), format="json"))
    again = accepted(api.post("/v2/profiles", person(), format="json"))
    assert again == first
    assert DataPoint.objects.get(pk=first).revision == 1
    assert Delivery.objects.filter(data_point_id=first).count() == 1
    assert changed_flags() == [True, False]


def test_changed_request_makes_a_revision_and_its_delivery(api):
    first = accepted(api.post("/v2/profiles", person(city="Lund"), format="json"))
    accepted(api.post("/v2/profiles", person(city="Lund"), format="json"))
    changed = accepted(api.post("/v2/profiles", person(city="Malmö"), format="json"))
    assert changed == first
    assert DataPoint.objects.get(pk=first).revision == 2
    assert sorted(
        Delivery.objects.filter(data_point_id=first).values_list("revision", flat=True)
    ) == [1, 2]
    assert changed_flags() == [True, False, True]


def test_another_group_key_is_a_change(api, demo):
    demo.group_keys.create(key="second")
    body = person()
    first = accepted(api.post("/v3/profiles", body, format="json"))
    accepted(api.post("/v3/profiles", {**body, "groupKey": "second"}, format="json"))
    assert DataPoint.objects.get(pk=first).revision == 2


def test_identical_event_is_stored_and_sent_once(api):
    event = copy.deepcopy(examples.EVENT)
    first = accepted(api.post("/v2/events", event, format="json"))
    assert accepted(api.post("/v2/events", event, format="json")) == first
    assert DataPoint.objects.get(pk=first).revision == 1
    assert Delivery.objects.filter(data_point_id=first).count() == 1


def test_identical_batch_items_change_nothing(api):
    items = [person(n, email=f"p{n}@fake.com") for n in range(1, 6)]
    path = "/v3/profiles/batch"
    first = api.post(path, {"items": items}, format="json").json()["results"]
    items[2] = person(3, email="p3@fake.com", city="Ystad")
    again = api.post(path, {"items": items}, format="json").json()["results"]
    assert [r["datatalksId"] for r in again] == [r["datatalksId"] for r in first]
    revisions = dict(DataPoint.objects.values_list("hard_id", "revision"))
    assert revisions == {"1": 1, "2": 1, "3": 2, "4": 1, "5": 1}
    assert Delivery.objects.count() == 6
    assert changed_flags() == [True, True]
    api.post(path, {"items": items}, format="json")
    assert changed_flags() == [True, True, False]


def test_unchanged_request_attaches_a_secondary_id_freed_since(api):
    owner = accepted(api.post("/v2/profiles", person(1, email="x@fake.com"), "json"))
    claimant_body = person(2, email="x@fake.com")
    claimant = accepted(api.post("/v2/profiles", claimant_body, format="json"))
    assert SecondaryIdentifier.objects.get(value="x@fake.com").data_point_id == (
        DataPoint.objects.get(pk=owner).pk
    )
    accepted(api.post("/v2/profiles", person(1, email="y@fake.com"), format="json"))
    accepted(api.post("/v2/profiles", claimant_body, format="json"))
    assert str(SecondaryIdentifier.objects.get(value="x@fake.com").data_point_id) == (
        claimant
    )
    assert DataPoint.objects.get(pk=claimant).revision == 1


def test_the_request_log_list_marks_the_request_that_changed_nothing(api, admin_client):
    accepted(api.post("/v2/profiles", person(), format="json"))
    accepted(api.post("/v2/profiles", person(), format="json"))
    page = admin_client.get(reverse("admin:ingestion_requestlog_changelist"))
    assert page.content.decode().count("no change") == 1
    only_unchanged = admin_client.get(
        reverse("admin:ingestion_requestlog_changelist"), {"changed__exact": "0"}
    )
    assert len(only_unchanged.context["cl"].result_list) == 1
