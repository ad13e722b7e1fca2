"""A changed event updates the event Salesmanago already has, by the eventId its add
answered; it is never added a second time. The API is called with signed requests;
the sends go to the sandbox over HTTP on loopback."""

import copy

import pytest

from ingestion import examples
from integrations.demo import salesmanago_demo_load
from integrations.models import Delivery, SalesmanagoEvent
from integrations.salesmanago.client import EVENT_ADD_PATH, EVENT_UPDATE_PATH
from integrations.services import account_deliver, deliveries_sweep, next_due_in
from mappings.demo import demo_load
from tests.harness.customers import signed_client
from tests.harness.processes import free_port, loopback_url

ORDER = examples.EVENT["data"]["event_id"]
# The sender's statements commit on their own, as in a worker.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def account(db, sandbox, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    # A failed call is due again at once: the tests call the sender themselves.
    settings.DELIVERY_BACKOFF_BASE_SECONDS = 0
    customer = demo_load()
    account = salesmanago_demo_load(customer)
    account.base_url = account.v3_base_url = sandbox.url
    account.save()
    return account


@pytest.fixture
def api(account):
    return signed_client(account.customer)


def purchase(api, **changes) -> str:
    body = copy.deepcopy(examples.EVENT)
    body["data"].update(changes)
    response = api.post("/v2/events", body, format="json")
    assert response.status_code == 200, response.json()
    return response.json()["datatalksId"]


def delivered_once(api, account, sandbox) -> dict:
    """The person and the purchase, sent; returns the purchase as Salesmanago has it."""
    response = api.post("/v2/profiles", examples.PROFILE, format="json")
    assert response.status_code == 200, response.json()
    purchase(api)
    assert account_deliver(account_id=account.pk) == 2
    [event] = sandbox.state()["events"]
    return event


def latest(datatalks_id) -> Delivery:
    return Delivery.objects.filter(data_point_id=datatalks_id).latest("revision")


def test_the_add_keeps_the_event_id_salesmanago_answered(api, account, sandbox):
    event = delivered_once(api, account, sandbox)
    kept = SalesmanagoEvent.objects.get()
    assert kept.event_id == event["eventId"]
    assert (kept.account_id, kept.revision) == (account.pk, 1)
    delivery = Delivery.objects.get(category="event")
    assert delivery.remote_id == event["eventId"]
    assert sandbox.state()["calls"][EVENT_ADD_PATH] == 1


def test_a_changed_event_is_an_update_of_the_same_event(api, account, sandbox):
    before = delivered_once(api, account, sandbox)
    datatalks_id = purchase(api, total_purchase_amount="99.50", status="Refunded")
    assert account_deliver(account_id=account.pk) == 1
    state = sandbox.state()
    [after] = state["events"]  # the count is unchanged
    assert after["eventId"] == before["eventId"]
    assert (before["value"], after["value"]) == (123.75, 99.5)
    assert after["createdOn"] == before["createdOn"] and "modifiedOn" in after
    assert state["calls"][EVENT_ADD_PATH] == 1
    assert state["calls"][EVENT_UPDATE_PATH] == 1
    assert state["event_items"] == [ORDER]  # added once
    assert state["event_updates"] == [ORDER]  # updated once
    sent = latest(datatalks_id)
    assert (sent.revision, sent.status, sent.remote_id) == (2, "sent", after["eventId"])
    assert f'"eventId": "{after["eventId"]}"' in sent.request_excerpt
    assert SalesmanagoEvent.objects.get().revision == 2


def test_every_later_change_updates_the_one_event(api, account, sandbox):
    delivered_once(api, account, sandbox)
    for amount in ("1.00", "2.00", "3.00"):
        purchase(api, total_purchase_amount=amount)
        assert account_deliver(account_id=account.pk) == 1
    state = sandbox.state()
    assert [e["value"] for e in state["events"]] == [3.0]
    assert state["event_items"] == [ORDER] and len(state["event_updates"]) == 3


def test_an_update_answered_503_is_retried_and_updates_once(api, account, sandbox):
    delivered_once(api, account, sandbox)
    datatalks_id = purchase(api, total_purchase_amount="50.00")
    sandbox.fail_next("503", 2, paths=[EVENT_UPDATE_PATH])
    for _ in range(3):
        account_deliver(account_id=account.pk)
    sent = latest(datatalks_id)
    assert (sent.status, sent.attempts) == ("sent", 3)
    state = sandbox.state()
    assert state["calls"][EVENT_UPDATE_PATH] == 3
    assert [e["value"] for e in state["events"]] == [50.0]
    assert state["event_items"] == [ORDER] and state["event_updates"] == [ORDER]


def test_an_add_answered_429_is_retried_and_added_once(api, account, sandbox):
    response = api.post("/v2/profiles", examples.PROFILE, format="json")
    assert response.status_code == 200
    datatalks_id = purchase(api)
    sandbox.fail_next("429", 1, paths=[EVENT_ADD_PATH])
    sent_on_the_second_run(account, datatalks_id, failed_with="429")
    state = sandbox.state()
    assert state["calls"][EVENT_ADD_PATH] == 2 and state["event_items"] == [ORDER]
    assert SalesmanagoEvent.objects.get().event_id == state["events"][0]["eventId"]


def test_calls_of_a_wave_that_fail_fail_alone_and_no_event_is_added_twice(
    api, account, sandbox, settings
):
    """One wave of five adds: one answered 503 goes again on the next run; one whose
    connection drops after its request was sent may have been added, so it ends
    unknown and is not sent again; the other three are sent, none added twice."""
    settings.SALESMANAGO_EVENT_CALLS_AT_ONCE = 5
    response = api.post("/v2/profiles", examples.PROFILE, format="json")
    assert response.status_code == 200
    orders = [f"ORDER-{i}" for i in range(5)]
    ids = [purchase(api, event_id=order) for order in orders]
    sandbox.fail_next("503", 1, paths=[EVENT_ADD_PATH])
    sandbox.fail_next("disconnect", 1, paths=[EVENT_ADD_PATH])
    account_deliver(account_id=account.pk)
    first = sorted((latest(i).status, latest(i).last_error) for i in ids)
    assert [status for status, _ in first] == ["pending"] + ["sent"] * 3 + ["unknown"]
    assert "HTTP 503" in first[0][1]
    assert "Cannot reach Salesmanago" in first[-1][1]
    assert "may have this event already" in first[-1][1]
    account_deliver(account_id=account.pk)
    assert sorted(latest(i).status for i in ids) == ["sent"] * 4 + ["unknown"]
    state = sandbox.state()
    assert state["calls"][EVENT_ADD_PATH] == 6
    assert len(state["event_items"]) == len(set(state["event_items"])) == 4
    kept = dict(SalesmanagoEvent.objects.values_list("data_point_id", "event_id"))
    assert sorted(kept.values()) == sorted(e["eventId"] for e in state["events"])


def test_calls_that_time_out_end_together_and_their_neighbours_are_sent(
    api, account, sandbox, settings
):
    """Every call of a wave gets the timeout from when it was sent: three that hang
    end after about one timeout (one after the other would be three, 6 s), and
    their neighbours are sent meanwhile."""
    import time

    settings.SALESMANAGO_EVENT_CALLS_AT_ONCE = 5
    settings.SALESMANAGO_TIMEOUT_SECONDS = 2
    response = api.post("/v2/profiles", examples.PROFILE, format="json")
    assert response.status_code == 200
    ids = [purchase(api, event_id=f"ORDER-{i}") for i in range(5)]
    sandbox.fail_next("timeout", 3, delay=10, paths=[EVENT_ADD_PATH])
    started = time.monotonic()
    account_deliver(account_id=account.pk)
    assert time.monotonic() - started < 5  # a bound with room for a busy machine
    ended = sorted((latest(i).status, latest(i).last_error) for i in ids)
    assert [status for status, _ in ended] == ["sent"] * 2 + ["unknown"] * 3
    assert "did not answer within 2 s" in ended[-1][1]


def test_an_add_sent_but_not_answered_ends_unknown_and_is_not_added_again(
    api, account, sandbox, settings
):
    """Salesmanago adds the event but answers after the client's timeout: sending
    the add again would add the order twice (its automations would fire twice), so
    it ends unknown for staff to check, as when a worker stops during the call. Its
    neighbours in the wave are sent."""
    settings.SALESMANAGO_EVENT_CALLS_AT_ONCE = 3
    settings.SALESMANAGO_TIMEOUT_SECONDS = 1
    response = api.post("/v2/profiles", examples.PROFILE, format="json")
    assert response.status_code == 200
    orders = [f"ORDER-{i}" for i in range(3)]
    ids = [purchase(api, event_id=order) for order in orders]
    sandbox.fail_next("timeout", 1, delay=5, process=True, paths=[EVENT_ADD_PATH])
    account_deliver(account_id=account.pk)
    ended = [latest(i) for i in ids]
    assert sorted(d.status for d in ended) == ["sent", "sent", "unknown"]
    [doubtful] = [d for d in ended if d.status == "unknown"]
    assert "did not answer within 1 s after the request was sent" in doubtful.last_error
    assert "Replay" in doubtful.last_error and doubtful.attempts == 1
    # The backoff is 0 here: a retry would be due at once; none is made.
    assert next_due_in(account.pk) is None
    assert account_deliver(account_id=account.pk) == 0
    assert latest(doubtful.data_point_id).status == "unknown"
    state = sandbox.state()
    assert state["calls"][EVENT_ADD_PATH] == 3
    assert sorted(state["event_items"]) == orders  # each added once, the late one too


def test_an_update_sent_but_not_answered_is_retried_and_updates_once(
    api, account, sandbox, settings
):
    """An update names its event: sent again, it changes the same event."""
    settings.SALESMANAGO_TIMEOUT_SECONDS = 1
    delivered_once(api, account, sandbox)
    datatalks_id = purchase(api, total_purchase_amount="50.00")
    sandbox.fail_next("timeout", 1, delay=5, process=True, paths=[EVENT_UPDATE_PATH])
    sent_on_the_second_run(
        account, datatalks_id, failed_with="did not answer within 1 s"
    )
    state = sandbox.state()
    assert state["calls"][EVENT_UPDATE_PATH] == 2
    assert [e["value"] for e in state["events"]] == [50.0]
    assert state["event_items"] == [ORDER]


def test_an_add_refused_at_connect_is_retried_and_added_once(api, account, sandbox):
    """Nothing reached Salesmanago, so the add goes again after its backoff."""
    response = api.post("/v2/profiles", examples.PROFILE, format="json")
    assert response.status_code == 200
    assert account_deliver(account_id=account.pk) == 1
    datatalks_id = purchase(api)
    account.base_url = account.v3_base_url = loopback_url(free_port())
    account.save()
    left_pending(account, datatalks_id, failed_with="Cannot reach Salesmanago")
    account.base_url = account.v3_base_url = sandbox.url
    account.save()
    account_deliver(account_id=account.pk)
    assert latest(datatalks_id).status == "sent"
    state = sandbox.state()
    assert state["calls"][EVENT_ADD_PATH] == 1 and state["event_items"] == [ORDER]


def test_an_update_refused_by_salesmanago_fails_and_adds_nothing(
    api, account, sandbox, sandbox_client
):
    event = delivered_once(api, account, sandbox)
    # Someone removed the event in Salesmanago: its id is unknown there now.
    sandbox_client._post_v2(
        "/api/contact/deleteContactExtEvent", {"eventId": event["eventId"]}
    )
    datatalks_id = purchase(api, total_purchase_amount="10.00")
    account_deliver(account_id=account.pk)
    failed = latest(datatalks_id)
    assert (failed.status, failed.attempts) == ("failed", 1)
    assert event["eventId"] in failed.last_error
    assert account_deliver(account_id=account.pk) == 0  # not retried
    state = sandbox.state()
    assert state["events"] == [] and state["event_items"] == [ORDER]


def test_an_update_on_the_wire_when_its_worker_stopped_is_sent_again(
    api, account, sandbox
):
    from datetime import timedelta

    from django.utils import timezone

    delivered_once(api, account, sandbox)
    datatalks_id = purchase(api, total_purchase_amount="7.00")
    long_ago = timezone.now() - timedelta(hours=1)
    Delivery.objects.filter(pk=latest(datatalks_id).pk).update(
        status="sending", claimed_at=long_ago, call_started_at=long_ago
    )
    deliveries_sweep()
    assert latest(datatalks_id).status == "pending"  # an update names its event
    account_deliver(account_id=account.pk)
    assert latest(datatalks_id).status == "sent"
    state = sandbox.state()
    assert [e["value"] for e in state["events"]] == [7.0]
    assert state["event_items"] == [ORDER]


def left_pending(account, datatalks_id, *, failed_with: str) -> None:
    """A run of the account's sender leaves the delivery pending after one attempt,
    its error naming ``failed_with``."""
    account_deliver(account_id=account.pk)
    waiting = latest(datatalks_id)
    assert (waiting.status, waiting.attempts) == ("pending", 1)
    assert failed_with in waiting.last_error


def sent_on_the_second_run(account, datatalks_id, *, failed_with: str) -> None:
    """The first run leaves the delivery pending (``left_pending``), the next sends it."""
    left_pending(account, datatalks_id, failed_with=failed_with)
    account_deliver(account_id=account.pk)
    assert latest(datatalks_id).status == "sent"
