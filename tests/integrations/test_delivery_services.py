"""Delivery services called directly (no worker): coalescing, claiming, backoff."""

import copy
import threading

import pytest
from django.db import connection

from ingestion import examples
from ingestion.services import datapoint_ingest
from integrations.demo import salesmanago_demo_load
from integrations.models import Delivery
from integrations.outcomes import backoff_seconds
from integrations.services import account_deliver
from mappings.demo import demo_load
from tests.harness.customers import caller_for
from tests.harness.threads import in_threads


@pytest.fixture
def account(db, sandbox, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    customer = demo_load()
    account = salesmanago_demo_load(customer)
    account.base_url = account.v3_base_url = sandbox.url
    account.save()
    customer.refresh_from_db()
    return account


def ingest(account, **data):
    body = copy.deepcopy(examples.PROFILE)
    body["data"].update(data)
    account.customer.refresh_from_db()
    return datapoint_ingest(
        caller=caller_for(account.customer), category="profile", version="v2", body=body
    ).datatalks_id


def test_only_the_latest_revision_is_sent(account, sandbox):
    ingest(account, city="Stockholm")
    ingest(account, city="Malmö")
    assert account_deliver(account_id=account.pk) == 1
    statuses = dict(Delivery.objects.values_list("revision", "status"))
    assert statuses == {1: "superseded", 2: "sent"}
    [contact] = sandbox.state()["contacts"]
    assert contact["address"]["city"] == "Malmö"
    assert sandbox.state()["received"]["contacts"] == 1


def test_sent_deliveries_are_never_claimed_again(account, sandbox):
    ingest(account)
    assert account_deliver(account_id=account.pk) == 1
    assert account_deliver(account_id=account.pk) == 0
    assert sandbox.state()["received"]["contacts"] == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_send_each_delivery_once(sandbox):
    customer = demo_load()
    account = salesmanago_demo_load(customer)
    account.base_url = account.v3_base_url = sandbox.url
    account.save()
    customer.refresh_from_db()
    for n in range(40):
        body = copy.deepcopy(examples.PROFILE)
        body["data"].update(customer_id=n, email=f"c{n}@fake.com")
        datapoint_ingest(
            caller=caller_for(customer), category="profile", version="v2", body=body
        )
    claimed = []

    in_threads(
        lambda: claimed.append(account_deliver(account_id=account.pk, limit=25)), 2
    )
    assert 25 <= sum(claimed) <= 40  # one holds the account; the other backs off
    while account_deliver(account_id=account.pk, limit=25):
        pass  # the follow-up runs the task would schedule
    assert Delivery.objects.filter(status="sent").count() == 40
    assert sandbox.state()["received"]["contacts"] == 40


def test_backoff_grows_is_capped_and_honours_retry_after(settings):
    settings.DELIVERY_BACKOFF_BASE_SECONDS = 2
    settings.DELIVERY_BACKOFF_CAP_SECONDS = 60
    first = [backoff_seconds(1) for _ in range(50)]
    late = [backoff_seconds(12) for _ in range(50)]
    assert all(2 <= d <= 3 for d in first)
    assert all(2 <= d <= 90 for d in late) and max(late) > 30
    assert backoff_seconds(1, retry_after=120) == 120


def _stuck(delivery, *, on_the_wire: bool):
    from datetime import timedelta

    from django.utils import timezone

    long_ago = timezone.now() - timedelta(hours=1)
    Delivery.objects.filter(pk=delivery.pk).update(
        status="sending",
        claimed_at=long_ago,
        call_started_at=long_ago if on_the_wire else None,
    )


def test_sweeper_resends_what_is_safe_and_flags_events_of_unknown_outcome(account):
    from ingestion.services import datapoints_ingest_batch
    from integrations.services import deliveries_sweep

    ingest(account)
    event = copy.deepcopy(examples.EVENT)
    second = copy.deepcopy(examples.EVENT)
    second["data"]["event_id"] = "E-2"
    datapoints_ingest_batch(
        caller=caller_for(account.customer),
        category="event",
        body={"items": [event, second]},
    )
    contact = Delivery.objects.get(category="profile")
    wired_event, quiet_event = Delivery.objects.filter(category="event").order_by("pk")
    _stuck(contact, on_the_wire=True)
    _stuck(wired_event, on_the_wire=True)
    _stuck(quiet_event, on_the_wire=False)
    assert deliveries_sweep() == [account.pk]
    statuses = {d.pk: d.status for d in Delivery.objects.all()}
    assert (
        statuses[contact.pk] == "pending"
    )  # looked up in Salesmanago before resending
    assert statuses[quiet_event.pk] == "pending"  # never reached the wire
    assert statuses[wired_event.pk] == "unknown"  # may be in Salesmanago already
    assert "not resent" in Delivery.objects.get(pk=wired_event.pk).last_error


@pytest.mark.django_db(transaction=True)
def test_a_second_sender_for_the_same_account_backs_off(account, sandbox):
    from django.db import connection as conn

    ingest(account)
    with conn.cursor() as cursor:  # another worker holds the account's lock
        cursor.execute("SELECT pg_advisory_lock(7283, %s)", [account.pk])

    claimed = []

    def other_worker():
        try:
            claimed.append(account_deliver(account_id=account.pk))
        finally:
            connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    thread.join(30)
    with conn.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(7283, %s)", [account.pk])
    assert claimed == [0]
    assert account_deliver(account_id=account.pk) == 1  # the lock is free again


def test_a_contact_of_unknown_outcome_is_looked_up_not_upserted_again(
    account, sandbox, sandbox_client
):
    ingest(account)
    contact = Delivery.objects.get()
    _stuck(contact, on_the_wire=True)
    # The call that the dead worker made had reached Salesmanago:
    sandbox_client.upsert_contacts([{"contact": {"email": "juliana.crane@fake.com"}}])
    from integrations.services import deliveries_sweep

    deliveries_sweep()
    assert account_deliver(account_id=account.pk) == 1
    contact.refresh_from_db()
    assert contact.status == "sent"
    assert contact.last_error.startswith("Confirmed in Salesmanago")
    assert sandbox.state()["received"]["contacts"] == 1  # not upserted a second time


def test_a_contact_of_unknown_outcome_missing_in_salesmanago_is_sent(account, sandbox):
    ingest(account)
    contact = Delivery.objects.get()
    _stuck(contact, on_the_wire=True)
    from integrations.services import deliveries_sweep

    deliveries_sweep()
    assert account_deliver(account_id=account.pk) == 1
    contact.refresh_from_db()
    assert contact.status == "sent" and contact.last_error == ""
    assert sandbox.state()["received"]["contacts"] == 1


def test_sweeper_counts_an_attempt_and_applies_the_max_age(account, settings):
    from datetime import timedelta

    from django.utils import timezone

    from integrations.services import deliveries_sweep

    settings.DELIVERY_MAX_AGE_SECONDS = 3600
    ingest(account, customer_id=1, email="young@fake.com")
    ingest(account, customer_id=2, email="old@fake.com")
    young, old = Delivery.objects.order_by("created_at")
    Delivery.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timedelta(hours=2)
    )
    for delivery in (young, old):
        _stuck(delivery, on_the_wire=False)
    Delivery.objects.update(attempts=3)
    deliveries_sweep()
    young.refresh_from_db()
    old.refresh_from_db()
    assert (young.status, young.attempts) == ("pending", 4)
    assert "worker stopped" in young.last_error
    assert (old.status, old.attempts) == ("dead", 4)
    assert "max age" in old.last_error


def test_a_send_that_stops_its_worker_every_time_ends_dead(account, settings):
    """A send re-queued by the sweeper again and again uses up its age, not forever."""
    from datetime import timedelta

    from django.utils import timezone

    from integrations.services import deliveries_sweep

    settings.DELIVERY_MAX_AGE_SECONDS = 3600
    ingest(account)
    delivery = Delivery.objects.get()
    for hours in range(3):  # the sweeper finds it stuck three times
        Delivery.objects.filter(pk=delivery.pk).update(
            created_at=timezone.now() - timedelta(hours=hours)
        )
        _stuck(delivery, on_the_wire=False)
        deliveries_sweep()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("dead", 3)


def test_any_fault_while_building_one_item_fails_that_item_only(account, sandbox):
    """Two entries whose targets collide (a value where the other needs an object)
    break only the data points that have both fields."""
    from integrations.models import MappingEntry

    mapping = MappingEntry.objects.get(target="contact.address.city").mapping
    MappingEntry.objects.create(  # saved unchecked, as an old row could be
        mapping=mapping, kind="string", source="country", target="contact.address"
    )
    ingest(account, customer_id=1, email="both@fake.com")  # city and country
    ingest(account, customer_id=2, email="city@fake.com", country=None)
    assert account_deliver(account_id=account.pk) == 2
    outcome = dict(Delivery.objects.values_list("data_point__data__email", "status"))
    assert outcome == {"both@fake.com": "failed", "city@fake.com": "sent"}
    failed = Delivery.objects.get(status="failed")
    assert failed.last_error.startswith("Not sent: TypeError")
    assert [c["email"] for c in sandbox.state()["contacts"]] == ["city@fake.com"]
