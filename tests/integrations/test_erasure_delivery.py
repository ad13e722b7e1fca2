"""Erasure and consent in delivery, services called directly against the sandbox over
HTTP: the contact delete through the outbox, the send-time re-check, and opt-in."""

import copy

from django.urls import reverse

from ingestion import examples
from ingestion.privacy.services import profile_erase
from ingestion.services import datapoint_ingest
from integrations import services
from integrations.models import (
    Delivery,
    DeliveryKind,
    SalesmanagoAccount,
    SalesmanagoEvent,
)
from integrations.salesmanago.client import SalesmanagoClient
from integrations.salesmanago.sandbox import SandboxAccount
from mappings.models import Category, GroupKey
from tests.harness.customers import caller_for
from tests.harness.sandbox import sandbox_credentials

EMAIL = "juliana.crane@fake.com"
DELETE = "/api/contact/delete"


def ingest(account, body=None, category="profile", **data):
    body = copy.deepcopy(body or examples.PROFILE)
    body["data"].update(data)
    account.customer.refresh_from_db()
    return datapoint_ingest(
        caller=caller_for(account.customer), category=category, version="v2", body=body
    ).datatalks_id


def erase(account, dp_id, suppress=False):
    account.customer.refresh_from_db()
    return profile_erase(
        customer=account.customer,
        environment="production",
        datatalks_id=dp_id,
        suppress=suppress,
        via="api",
        requested_by="DTTESTKEY00000000001",
    )


def deliver(account) -> int:
    return services.account_deliver(account_id=account.pk)


def test_the_contact_and_its_events_are_deleted_through_the_outbox(account, sandbox):
    dp_id = ingest(account)
    ingest(account, examples.EVENT, category="event")
    deliver(account)
    deliver(account)
    state = sandbox.state()
    assert [c["email"] for c in state["contacts"]] == [EMAIL]
    assert len(state["events"]) == 1
    assert SalesmanagoEvent.objects.count() == 1
    log = erase(account, dp_id).log
    assert log.erased["salesmanago_event_ids"] == 1
    assert not SalesmanagoEvent.objects.exists()
    assert deliver(account) == 1
    state = sandbox.state()
    assert state["contacts"] == [] and state["events"] == []
    assert state["calls"][DELETE] == 1
    [eraser] = Delivery.objects.filter(kind=DeliveryKind.ERASE)
    assert (eraser.status, eraser.attempts, eraser.contact_email) == ("sent", 1, None)
    assert "permanently" in eraser.request_excerpt
    assert EMAIL not in eraser.request_excerpt + eraser.response_excerpt


def test_a_contact_already_gone_is_recorded_as_nothing_to_delete(account, sandbox):
    dp_id = ingest(account)
    deliver(account)
    sandbox.reset()  # someone deleted it in Salesmanago meanwhile
    erase(account, dp_id)
    deliver(account)
    eraser = Delivery.objects.get(kind=DeliveryKind.ERASE)
    assert (eraser.status, eraser.last_error) == ("sent", services.NOTHING_TO_DELETE)
    assert sandbox.state()["calls"].get(DELETE) is None


def test_a_delete_salesmanago_refuses_fails_and_keeps_the_email_for_a_retry(
    account, sandbox
):
    dp_id = ingest(account)
    deliver(account)
    sandbox.fail_next("success_false", 1, message="Not authenticated", paths=[DELETE])
    erase(account, dp_id)
    deliver(account)
    eraser = Delivery.objects.get(kind=DeliveryKind.ERASE)
    assert (eraser.status, eraser.last_error) == ("failed", "Not authenticated")
    assert eraser.contact_email == EMAIL
    services.deliveries_retry_now(ids=[eraser.pk])
    deliver(account)
    eraser.refresh_from_db()
    assert (eraser.status, eraser.contact_email) == ("sent", None)
    assert sandbox.state()["contacts"] == []


def test_nothing_is_sent_for_a_person_erased_after_the_claim(account, sandbox):
    dp_id = ingest(account)
    claimed = services._claim(account, 10)
    assert [d.data_point_id for d in claimed] == [dp_id]
    erase(account, dp_id)  # commits while the worker holds the claim
    client = SalesmanagoClient(sandbox_credentials(sandbox.url))
    services._send(client, account, Category.PROFILE, claimed)
    state = sandbox.state()
    assert state["contacts"] == []
    assert state["calls"].get("/api/contact/batchupsert") is None
    assert Delivery.objects.get(kind=DeliveryKind.UPSERT).status == "cancelled"
    # It was never sent, so there is no contact to delete either.
    assert not Delivery.objects.filter(kind=DeliveryKind.ERASE).exists()


def test_new_contacts_are_opted_in_and_an_opt_out_in_salesmanago_stays(
    account, sandbox, sandbox_client
):
    sandbox_client.upsert_contacts(
        [{"contact": {"email": "out@fake.com"}, "forceOptIn": True}]
    )
    sandbox_client._post_v2("/api/contact/optout", {"email": "out@fake.com"})
    ingest(account, customer_id=1, email="new@fake.com")
    ingest(account, customer_id=2, email="out@fake.com")
    deliver(account)
    contacts = {c["email"]: c for c in sandbox.state()["contacts"]}
    assert contacts["new@fake.com"]["optedOut"] is False
    assert contacts["new@fake.com"]["optedOutPhone"] is False
    assert contacts["out@fake.com"]["optedOut"] is True
    assert contacts["out@fake.com"]["name"] == "Juliana Crane"  # it was updated
    # A later revision of the new contact leaves its consent as it is now.
    sandbox_client._post_v2("/api/contact/optout", {"email": "new@fake.com"})
    ingest(account, customer_id=1, email="new@fake.com", city="Malmö")
    deliver(account)
    contacts = {c["email"]: c for c in sandbox.state()["contacts"]}
    assert contacts["new@fake.com"]["optedOut"] is True
    assert contacts["new@fake.com"]["address"]["city"] == "Malmö"


def test_the_deliveries_admin_never_shows_an_erase_deliverys_email(
    account, sandbox, admin_client
):
    dp_id = ingest(account)
    deliver(account)
    erase(account, dp_id)
    eraser = Delivery.objects.get(kind=DeliveryKind.ERASE)
    assert eraser.contact_email == EMAIL
    url = reverse("admin:integrations_delivery_change", args=[eraser.pk])
    html = admin_client.get(url).content.decode()
    assert str(eraser.pk) in html and "erase" in html
    assert EMAIL not in html.lower()


def test_excerpts_quoting_the_person_are_emptied_and_no_others(account, sandbox):
    dp_id = ingest(account)
    neighbour = ingest(account, customer_id=2, email="neighbour@fake.com")
    deliver(account)  # one batch: its excerpt quotes both
    apart = ingest(account, customer_id=3, email="apart@fake.com")  # same city
    deliver(account)
    erase(account, dp_id)
    excerpts = {
        d.data_point_id: d.request_excerpt
        for d in Delivery.objects.filter(kind=DeliveryKind.UPSERT)
    }
    assert excerpts[dp_id] == excerpts[neighbour] == ""
    assert "apart@fake.com" in excerpts[apart] and "Stockholm" in excerpts[apart]


def test_the_contact_is_deleted_in_every_account_it_was_sent_to(account, sandbox):
    customer = account.customer
    other_key = GroupKey.objects.create(customer=customer, key="shop_two")
    sandbox.add_account(
        SandboxAccount("second", "second-secret", ("owner@two.example",), "")
    )
    second = SalesmanagoAccount.objects.create(
        customer=customer,
        group_key=other_key,
        base_url=sandbox.url,
        v3_base_url=sandbox.url,
        client_id="second",
        api_secret="second-secret",
        owner_email="owner@two.example",
    )
    dp_id = ingest(account)
    deliver(account)
    moved = copy.deepcopy(examples.PROFILE)
    moved["groupKey"] = "shop_two"
    ingest(account, moved, city="Malmö")  # the person now goes to the second account
    services.account_deliver(account_id=second.pk)
    assert {c["clientId"] for c in sandbox.state()["contacts"]} == {
        "demo-client",
        "second",
    }
    log = erase(account, dp_id).log
    assert sorted(log.salesmanago_accounts) == ["demo-client", "second"]
    deliver(account)
    services.account_deliver(account_id=second.pk)
    assert sandbox.state()["contacts"] == []
    assert set(
        Delivery.objects.filter(kind=DeliveryKind.ERASE).values_list(
            "account__client_id", "status"
        )
    ) == {("demo-client", "sent"), ("second", "sent")}
