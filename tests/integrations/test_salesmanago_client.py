"""The Salesmanago client against the sandbox over real HTTP on loopback."""

import dataclasses
import json
import time

import pytest
import requests

from integrations.salesmanago.client import (
    Credentials,
    SalesmanagoClient,
    retry_after_seconds,
    v2_sha,
)
from integrations.salesmanago.errors import SalesmanagoError
from integrations.salesmanago.limits import MAX_CONTACTS
from integrations.salesmanago.sandbox import (
    DEMO_API_SECRET,
    DEMO_CATALOG_ID,
    DEMO_V3_API_KEY,
    Options,
    SandboxServer,
)
from tests.harness.processes import free_port
from tests.harness.sandbox import sandbox_credentials

PURCHASE_MS = 1616067324000


class RecordingSession(requests.Session):
    """A real session that keeps what went over the wire."""

    def __init__(self):
        super().__init__()
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request, **kwargs):
        self.sent.append(request)
        return super().send(request, **kwargs)


def contact(email, **extra):
    return {"contact": {"email": email, **extra.pop("contact", {})}, **extra}


def event(external_id, **who):
    return {
        **who,
        "contactEvent": {
            "contactExtEventType": "PURCHASE",
            "date": PURCHASE_MS,
            "value": 123.75,
            "externalId": external_id,
        },
    }


def product(product_id, **extra):
    return {
        "productId": product_id,
        "name": f"Product {product_id}",
        "mainCategory": "Shoes",
        **extra,
    }


def failure(call, *args) -> SalesmanagoError:
    with pytest.raises(SalesmanagoError) as caught:
        call(*args)
    return caught.value


# -- authentication ------------------------------------------------------------------------


def test_sha_matches_the_reference_test_vector():
    sha = v2_sha("your-api-key-123", "your-client-id-123", "your-api-secret")
    assert sha == "3a2414038ef6149bf795951f52cce1f0dae8cff8"


def test_every_v2_call_has_fresh_signed_credentials(sandbox):
    session = RecordingSession()
    client = SalesmanagoClient(sandbox_credentials(sandbox.url), session=session)
    client.upsert_contacts([contact("a@example.com")])
    client.upsert_contacts([contact("b@example.com")])
    first, second = (json.loads(r.body) for r in session.sent)
    assert first["apiKey"] != second["apiKey"]
    for body in (first, second):
        assert body["clientId"] == "demo-client"
        assert body["owner"] == "owner@demo.example"
        assert body["sha"] == v2_sha(body["apiKey"], "demo-client", DEMO_API_SECRET)
        assert isinstance(body["requestTime"], int)
        assert abs(body["requestTime"] - time.time() * 1000) < 60_000
    assert session.sent[0].headers["Content-Type"] == "application/json;charset=UTF-8"


def test_v3_calls_send_the_api_key_header(sandbox):
    session = RecordingSession()
    client = SalesmanagoClient(sandbox_credentials(sandbox.url), session=session)
    client.upsert_products(DEMO_CATALOG_ID, [product("SKU-1")])
    assert session.sent[0].headers["API-KEY"] == DEMO_V3_API_KEY
    assert "apiKey" not in json.loads(session.sent[0].body)


def test_bad_secret_fails_permanently_with_not_authenticated(sandbox):
    client = SalesmanagoClient(
        sandbox_credentials(sandbox.url, api_secret="wrong-secret")
    )
    error = failure(client.upsert_contacts, [contact("a@example.com")])
    assert error.permanent is True
    assert error.message == "Not authenticated"
    assert error.status == 200
    assert sandbox.state()["contacts"] == []


def test_unknown_owner_fails_permanently(sandbox):
    creds = sandbox_credentials(sandbox.url, owner="someone@else.example")
    error = failure(SalesmanagoClient(creds).add_events, [event("E1", email="a@x.com")])
    assert (error.permanent, error.message) == (True, "Not authenticated")


def test_auth_failure_as_http_401_is_permanent():
    with SandboxServer(options=Options(auth_failure_status=401)) as server:
        client = SalesmanagoClient(
            sandbox_credentials(server.url, api_secret="wrong-secret")
        )
        error = failure(client.upsert_contacts, [contact("a@example.com")])
    assert (error.permanent, error.status, error.message) == (
        True,
        401,
        "Not authenticated",
    )


def test_wrong_v3_key_fails_permanently(sandbox):
    client = SalesmanagoClient(
        sandbox_credentials(sandbox.url, v3_api_key="wrong-v3-key")
    )
    error = failure(client.upsert_products, DEMO_CATALOG_ID, [product("SKU-1")])
    assert error.permanent is True
    assert error.status == 400
    assert "reasonCode 10" in error.message


# -- contacts ------------------------------------------------------------------------------


def test_upsert_contacts_stores_mapped_fields_and_maps_ids_back(
    sandbox, sandbox_client
):
    items = [
        contact(
            "Anna@Example.com",
            contact={"name": "Anna Berg", "address": {"city": "Lund", "country": "SE"}},
            properties={"loyalty_level": "gold"},
            tags=["VIP"],
            birthday="19870605",
            forceOptIn=True,
        ),
        contact("bo@example.com", contact={"name": "Bo"}),
    ]
    results = sandbox_client.upsert_contacts(items).results
    stored = {c["email"]: c for c in sandbox.state()["contacts"]}
    assert [r.ok for r in results] == [True, True]
    assert results[0].remote_id == stored["Anna@Example.com"]["contactId"]
    assert results[1].remote_id == stored["bo@example.com"]["contactId"]
    anna = stored["Anna@Example.com"]
    assert anna["name"] == "Anna Berg"
    assert anna["address"] == {"city": "Lund", "country": "SE"}
    assert anna["properties"] == {"loyalty_level": "gold"}
    assert (anna["tags"], anna["birthday"], anna["optedOut"]) == (
        ["VIP"],
        "19870605",
        False,
    )


def test_upsert_contacts_again_updates_the_same_contact(sandbox, sandbox_client):
    first = sandbox_client.upsert_contacts([contact("a@example.com")]).results
    again = sandbox_client.upsert_contacts(
        [contact("A@EXAMPLE.COM", contact={"name": "A"})]
    ).results
    assert again[0].remote_id == first[0].remote_id
    assert len(sandbox.state()["contacts"]) == 1
    assert sandbox.state()["received"]["contacts"] == 2


def test_invalid_contact_fails_only_its_own_item(sandbox, sandbox_client):
    results = sandbox_client.upsert_contacts(
        [
            contact("ok@example.com"),
            contact("mma a@gma.com"),
            contact("ok2@example.com"),
        ]
    ).results
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].permanent is True
    assert results[1].remote_id is None
    assert "contact.email" in results[1].message
    assert "mma a@gma.com" in results[1].message
    assert len(sandbox.state()["contacts"]) == 2


@pytest.mark.parametrize("count", [0, MAX_CONTACTS + 1])
def test_contact_batches_outside_1_to_1000_are_refused_before_sending(
    sandbox, sandbox_client, count
):
    with pytest.raises(ValueError, match="1 to 1000"):
        sandbox_client.upsert_contacts([contact(f"c{i}@x.com") for i in range(count)])
    assert sandbox.state()["calls"] == {}


def test_a_full_batch_of_1000_contacts_is_accepted(sandbox, sandbox_client):
    results = sandbox_client.upsert_contacts(
        [contact(f"c{i}@x.com") for i in range(MAX_CONTACTS)]
    ).results
    assert all(r.ok for r in results)
    assert len({r.remote_id for r in results}) == MAX_CONTACTS


# -- events --------------------------------------------------------------------------------


def test_events_batch_with_unknown_contact_fails_only_that_item(
    sandbox, sandbox_client
):
    known = (
        sandbox_client.upsert_contacts([contact("anna@example.com")])
        .results[0]
        .remote_id
    )
    results = sandbox_client.add_events(
        [
            event("E1", email="anna@example.com"),
            event("E2", email="nobody@example.com"),
            event("E3", contactId=known),
        ]
    ).results
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].permanent is True
    assert "nobody@example.com" in results[1].message
    state = sandbox.state()
    assert sorted(e["externalId"] for e in state["events"]) == ["E1", "E3"]
    assert all(e["contactId"] == known for e in state["events"])
    assert state["event_items"] == ["E1", "E2", "E3"]


def test_events_are_stored_with_their_fields(sandbox, sandbox_client):
    sandbox_client.upsert_contacts([contact("anna@example.com")])
    item = event("ORDER-1", email="anna@example.com")
    item["contactEvent"].update(detail1="card", detail2="paid", description="Shoes")
    assert sandbox_client.add_events([item]).results[0].ok
    stored = sandbox.state()["events"][0]
    expected = {**item["contactEvent"], "email": "anna@example.com"}
    assert {k: stored[k] for k in expected} == expected


def test_invalid_event_fails_only_its_own_item(sandbox, sandbox_client):
    sandbox_client.upsert_contacts([contact("anna@example.com")])
    bad = event("E2", email="anna@example.com")
    bad["contactEvent"]["contactExtEventType"] = "BIRTHDAY_PARTY"
    results = sandbox_client.add_events(
        [event("E1", email="anna@example.com"), bad]
    ).results
    assert [r.ok for r in results] == [True, False]
    assert "contactExtEventType" in results[1].message


def test_event_batches_outside_1_to_1000_are_refused(sandbox_client):
    with pytest.raises(ValueError):
        sandbox_client.add_events([])
    with pytest.raises(ValueError):
        sandbox_client.add_events(
            [event(f"E{i}", email="a@x.com") for i in range(1001)]
        )


# -- products ------------------------------------------------------------------------------


def test_upsert_products_stores_them_in_the_catalog(sandbox, sandbox_client):
    items = [
        product("SKU-1", price=29.99, categories=["Shoes", "Running"]),
        product("SKU-2", customDetails={"detail1": "leather"}),
    ]
    results = sandbox_client.upsert_products(DEMO_CATALOG_ID, items).results
    assert [(r.ok, r.remote_id) for r in results] == [(True, "SKU-1"), (True, "SKU-2")]
    stored = {p["productId"]: p for p in sandbox.state()["products"]}
    assert stored["SKU-1"]["catalogId"] == DEMO_CATALOG_ID
    assert stored["SKU-1"]["price"] == 29.99
    assert stored["SKU-1"]["categories"] == ["Shoes", "Running"]
    assert stored["SKU-2"]["customDetails"] == {"detail1": "leather"}


def test_product_without_name_fails_alone_and_the_rest_can_be_resent(
    sandbox, sandbox_client
):
    good, nameless = product("SKU-1"), product("SKU-2")
    del nameless["name"]
    results = sandbox_client.upsert_products(DEMO_CATALOG_ID, [good, nameless]).results
    assert results[1].ok is False and results[1].permanent is True
    assert results[1].message.startswith("products[1].name|")
    # The 400 rejected the request as a whole, so the good product is worth resending.
    assert results[0].ok is False and results[0].permanent is False
    assert sandbox.state()["products"] == []
    assert sandbox_client.upsert_products(DEMO_CATALOG_ID, [good]).results[0].ok


def test_trimmed_product_is_a_warning_not_a_failure(sandbox, sandbox_client):
    results = sandbox_client.upsert_products(
        DEMO_CATALOG_ID, [product("SKU-1", description="x" * 3000)]
    ).results
    assert results[0].ok
    assert len(sandbox.state()["products"][0]["description"]) == 2048


def test_unknown_catalog_fails_the_call_permanently(sandbox_client):
    error = failure(sandbox_client.upsert_products, "no-such-catalog", [product("S")])
    assert error.permanent is True
    assert "reasonCode 16" in error.message


@pytest.mark.parametrize("count", [0, 101])
def test_product_batches_outside_1_to_100_are_refused(sandbox, sandbox_client, count):
    with pytest.raises(ValueError, match="1 to 100"):
        sandbox_client.upsert_products(
            DEMO_CATALOG_ID, [product(f"S{i}") for i in range(count)]
        )
    assert sandbox.state()["calls"] == {}


# -- transient and permanent failures ------------------------------------------------------


@pytest.mark.parametrize(
    "kind,status,permanent",
    [
        ("500", 500, False),
        ("503", 503, False),
        ("non_json", 200, False),
        ("success_false", 200, True),
    ],
)
def test_faults_raise_the_right_error_for_contacts(
    sandbox, sandbox_client, kind, status, permanent
):
    sandbox.fail_next(kind)
    error = failure(sandbox_client.upsert_contacts, [contact("a@example.com")])
    assert (error.permanent, error.status, error.retry_after) == (
        permanent,
        status,
        None,
    )
    assert sandbox.state()["contacts"] == []


def test_success_false_carries_salesmanagos_message(sandbox, sandbox_client):
    sandbox.fail_next("success_false", message="User not authenticated")
    error = failure(sandbox_client.add_events, [event("E1", email="a@x.com")])
    assert (error.permanent, error.message) == (True, "User not authenticated")


@pytest.mark.parametrize("kind,permanent", [("503", False), ("success_false", True)])
def test_faults_raise_the_right_error_for_products(
    sandbox, sandbox_client, kind, permanent
):
    sandbox.fail_next(kind)
    error = failure(sandbox_client.upsert_products, DEMO_CATALOG_ID, [product("S")])
    assert error.permanent is permanent


def test_429_is_transient_with_retry_after(sandbox, sandbox_client):
    sandbox.fail_next("429", retry_after=7)
    error = failure(sandbox_client.upsert_contacts, [contact("a@example.com")])
    assert (error.permanent, error.status, error.retry_after) == (False, 429, 7.0)


def test_503_with_retry_after_passes_it_on(sandbox, sandbox_client):
    sandbox.fail_next("503", retry_after=2.5)
    error = failure(sandbox_client.upsert_contacts, [contact("a@example.com")])
    assert error.retry_after == 2.5


def test_timeout_is_transient_and_the_next_call_succeeds(sandbox):
    client = SalesmanagoClient(sandbox_credentials(sandbox.url, timeout=0.5))
    sandbox.fail_next("timeout", delay=2)
    started = time.monotonic()
    error = failure(client.upsert_contacts, [contact("a@example.com")])
    assert time.monotonic() - started < 1.9
    assert (error.permanent, error.status) == (False, None)
    assert "0.5 s" in error.message
    assert error.exchange.status is None
    assert client.upsert_contacts([contact("a@example.com")]).results[0].ok


def test_dropped_connection_is_transient(sandbox, sandbox_client):
    sandbox.fail_next("disconnect")
    error = failure(sandbox_client.upsert_contacts, [contact("a@example.com")])
    assert error.permanent is False


def test_refused_connection_is_transient():
    client = SalesmanagoClient(sandbox_credentials(f"http://127.0.0.1:{free_port()}"))
    error = failure(client.upsert_contacts, [contact("a@example.com")])
    assert error.permanent is False
    assert error.message.startswith("Cannot reach Salesmanago")


def test_http_404_is_permanent(sandbox):
    client = SalesmanagoClient(sandbox_credentials(sandbox.url + "/wrong-prefix"))
    error = failure(client.upsert_contacts, [contact("a@example.com")])
    assert (error.permanent, error.status) == (True, 404)


def test_faults_apply_only_to_the_paths_named(sandbox, sandbox_client):
    sandbox.fail_next("503", count=2, paths=["/v3/"])
    assert sandbox_client.upsert_contacts([contact("a@example.com")]).results[0].ok
    for _ in range(2):
        failure(sandbox_client.upsert_products, DEMO_CATALOG_ID, [product("S")])
    assert sandbox_client.upsert_products(DEMO_CATALOG_ID, [product("S")]).results[0].ok


def test_retry_after_accepts_seconds_and_http_dates():
    assert retry_after_seconds("120") == 120.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    in_a_minute = time.strftime(
        "%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 60)
    )
    assert 55 <= retry_after_seconds(in_a_minute) <= 61


# -- secrets -------------------------------------------------------------------------------


def test_the_exchange_keeps_the_request_without_credentials(sandbox):
    session = RecordingSession()
    client = SalesmanagoClient(sandbox_credentials(sandbox.url), session=session)
    exchange = client.upsert_contacts([contact("a@example.com")]).exchange
    sent = json.loads(session.sent[0].body)
    assert exchange.method == "POST"
    assert exchange.url == sandbox.url + "/api/contact/batchupsert"
    assert exchange.status == 200
    assert exchange.elapsed_ms > 0
    assert json.loads(exchange.response)["success"] is True
    request = json.loads(exchange.request)
    assert request["clientId"] == "demo-client"
    assert request["upsertDetails"] == [contact("a@example.com")]
    assert not {"apiKey", "sha", "apiSecret"} & set(request)
    text = json.dumps(dataclasses.asdict(exchange))
    for secret in (DEMO_API_SECRET, sent["apiKey"], sent["sha"]):
        assert secret not in text


def test_v3_key_never_reaches_the_exchange(sandbox, sandbox_client):
    sent = sandbox_client.upsert_products(DEMO_CATALOG_ID, [product("S")])
    assert DEMO_V3_API_KEY not in json.dumps(dataclasses.asdict(sent.exchange))


def test_secrets_echoed_by_the_server_are_scrubbed(sandbox, sandbox_client):
    sandbox.fail_next("success_false", message=f"bad secret {DEMO_API_SECRET}")
    error = failure(sandbox_client.upsert_contacts, [contact("a@example.com")])
    assert DEMO_API_SECRET not in str(error)
    assert DEMO_API_SECRET not in json.dumps(dataclasses.asdict(error.exchange))
    assert "[redacted]" in error.message


def test_the_exchange_is_truncated(sandbox_client):
    items = [contact(f"someone-{i}@example.com") for i in range(300)]
    exchange = sandbox_client.upsert_contacts(items).exchange
    assert len(exchange.request) == 4000
    assert len(exchange.response) == 1000


def test_credentials_repr_hides_secrets():
    creds = Credentials(
        base_url="https://app3.salesmanago.com",
        v3_base_url="https://api.salesmanago.com",
        client_id="c1",
        api_secret="s3cr3t-value",
        owner="o@x.com",
        v3_api_key="v3-k3y",
    )
    text = repr(creds) + str(creds)
    assert "c1" in text
    assert "s3cr3t-value" not in text and "v3-k3y" not in text


def test_a_secret_too_short_to_scrub_withholds_the_whole_answer(sandbox):
    # Scrubbing "e" would leave "Not authenticat[redacted]d": the gaps spell it out.
    client = SalesmanagoClient(sandbox_credentials(sandbox.url, api_secret="e"))
    error = failure(client.upsert_contacts, [contact("a@example.com")])
    text = str(error) + json.dumps(dataclasses.asdict(error.exchange))
    assert "[redacted]" not in text
    assert "too short to be scrubbed" in error.message
    assert "too short to be scrubbed" in error.exchange.response


# -- contact delete (issue 14) -------------------------------------------------------------


def test_delete_contact_removes_it_for_good_without_the_email_in_the_exchange(
    sandbox, sandbox_client
):
    sandbox_client.upsert_contacts([contact("gone@example.com")])
    exchange = sandbox_client.delete_contact("gone@example.com")
    assert sandbox.state()["contacts"] == []
    assert '"permanently": true' in exchange.request
    assert "gone@example.com" not in exchange.request + exchange.response
    [logged] = [r for r in sandbox.state()["requests"] if r["path"].endswith("/delete")]
    sent = {k: logged["body"].get(k) for k in ("owner", "email", "permanently")}
    assert sent == {
        "owner": "owner@demo.example",
        "email": "gone@example.com",
        "permanently": True,
    }


def test_an_empty_http_200_to_a_delete_is_a_success(sandbox, sandbox_client):
    sandbox.fail_next("empty", paths=["/api/contact/delete"])
    exchange = sandbox_client.delete_contact("any@example.com")
    assert (exchange.status, exchange.response) == (200, "")


@pytest.mark.parametrize("kind,permanent", [("503", False), ("success_false", True)])
def test_a_refused_delete_raises_like_any_call(
    sandbox, sandbox_client, kind, permanent
):
    sandbox.fail_next(kind, paths=["/api/contact/delete"])
    error = failure(sandbox_client.delete_contact, "any@example.com")
    assert error.permanent is permanent
