"""The sandbox Salesmanago over HTTP: auth, v2 and v3 semantics, limits, faults, control.

Requests are built here by hand (not with the project's client) so the sandbox is held
to the reference, not to whatever the client happens to send.
"""

import hashlib
import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from integrations.salesmanago.sandbox import (
    DEMO_API_SECRET,
    DEMO_CATALOG_ID,
    DEMO_V3_API_KEY,
    Options,
    SandboxAccount,
    SandboxServer,
)
from tests.harness.processes import (
    ROOT,
    answers,
    free_port,
    sandbox_command,
    wait_for,
)

NOW_MS = 1616067324000


def signed(
    body,
    *,
    client_id="demo-client",
    secret=DEMO_API_SECRET,
    owner="owner@demo.example",
    api_key="any-random-key",
    request_time=None,
):
    """A v2 body signed by the reference's rule, independently of the client."""
    text = api_key + client_id + secret
    sha = hashlib.sha1(text.encode()).hexdigest()  # noqa: S324  the protocol's hash
    auth = {
        "clientId": client_id,
        "apiKey": api_key,
        "sha": sha,
        "owner": owner,
        "requestTime": request_time or int(time.time() * 1000),
    }
    return {**auth, **body}


def post(server, path, body, timeout=5):
    return requests.post(server.url + path, json=body, timeout=timeout)


def v2(server, path, body=None, **auth):
    response = post(server, path, signed(body or {}, **auth))
    assert response.status_code == 200, response.text
    return response.json()


def ok(answer):
    assert answer["success"] is True, answer
    assert answer["message"] == [] or isinstance(answer["message"], list)
    return answer


def refused(answer):
    assert answer["success"] is False, answer
    return answer["message"]


def v3(server, path, body, key=DEMO_V3_API_KEY):
    return requests.post(
        server.url + path, json=body, headers={"API-KEY": key}, timeout=5
    )


def upsert(server, email, contact=None, **item):
    body = {"contact": {"email": email, **(contact or {})}, **item}
    return ok(v2(server, "/api/contact/upsert", body))


def contact_event(**changes):
    return {"contactExtEventType": "PURCHASE", "date": NOW_MS, **changes}


def product(product_id, **changes):
    return {"productId": product_id, "name": "Shoe", "mainCategory": "Shoes", **changes}


def codes(response):
    return sorted(p["reasonCode"] for p in response.json()["problems"])


# -- transport and authentication ----------------------------------------------------------


def test_unknown_paths_are_404(sandbox):
    assert post(sandbox, "/api/contact/nothing", signed({})).status_code == 404
    assert requests.get(sandbox.url + "/elsewhere", timeout=5).status_code == 404
    assert v3(sandbox, "/v3/product/nothing", {}).status_code == 404


def test_v2_takes_only_post_with_a_json_object(sandbox):
    url = sandbox.url + "/api/contact/upsert"
    assert requests.get(url, timeout=5).status_code == 405
    assert requests.post(url, data=b"not json", timeout=5).status_code == 400


def test_accepts_the_reference_test_vector(sandbox):
    sandbox.add_account(
        SandboxAccount("your-client-id-123", "your-api-secret", ("a@vendor.pl",), "")
    )
    body = {
        "clientId": "your-client-id-123",
        "apiKey": "your-api-key-123",
        "sha": "3a2414038ef6149bf795951f52cce1f0dae8cff8",
        "requestTime": 1327056031488,
        "owner": "a@vendor.pl",
        "contact": {"email": "x@vendor.pl"},
    }
    response = post(sandbox, "/api/contact/upsert", body)
    assert response.json()["success"] is True


@pytest.mark.parametrize(
    "auth",
    [
        {"secret": "wrong"},
        {"client_id": "unknown-client"},
        {"owner": "stranger@demo.example"},
        {"request_time": "yesterday"},
    ],
)
def test_bad_credentials_are_http_200_not_authenticated(sandbox, auth):
    answer = v2(
        sandbox, "/api/contact/upsert", {"contact": {"email": "a@x.com"}}, **auth
    )
    assert refused(answer) == ["Not authenticated"]
    assert sandbox.state()["contacts"] == []


@pytest.mark.parametrize("field", ["clientId", "apiKey", "sha", "requestTime", "owner"])
def test_each_auth_field_is_required(sandbox, field):
    body = signed({"contact": {"email": "a@x.com"}})
    del body[field]
    assert post(sandbox, "/api/contact/upsert", body).json() == {
        "success": False,
        "message": ["Not authenticated"],
    }


@pytest.mark.parametrize("unit", ["seconds", "ms_string", "old_ms"])
def test_request_time_in_seconds_or_ms_number_or_string(sandbox, unit):
    request_time = {
        "seconds": int(time.time()),
        "old_ms": NOW_MS,
        "ms_string": str(int(time.time() * 1000)),
    }[unit]
    upsert_body = {"contact": {"email": "a@x.com"}}
    ok(v2(sandbox, "/api/contact/upsert", upsert_body, request_time=request_time))


def test_sha_is_compared_case_insensitively(sandbox):
    body = signed({"contact": {"email": "a@x.com"}})
    body["sha"] = body["sha"].upper()
    assert post(sandbox, "/api/contact/upsert", body).json()["success"] is True


def test_optional_clock_skew_check():
    with SandboxServer(options=Options(max_skew_seconds=60)) as server:
        stale = v2(
            server,
            "/api/contact/upsert",
            {"contact": {"email": "a@x.com"}},
            request_time=NOW_MS,
        )
        fresh = v2(server, "/api/contact/upsert", {"contact": {"email": "a@x.com"}})
    assert refused(stale) == ["Not authenticated"]
    ok(fresh)


# -- contacts ------------------------------------------------------------------------------


def test_upsert_creates_then_merges_one_contact(sandbox):
    first = upsert(
        sandbox,
        "anna@x.com",
        contact={"name": "Anna", "state": "CUSTOMER"},
        properties={"a": "1"},
        tags=["VIP", "NEW"],
        forceOptIn=True,
    )
    second = upsert(
        sandbox,
        "ANNA@x.com",
        contact={"company": "Acme"},
        properties={"b": "2"},
        removeTags=["NEW"],
        forceOptOut=True,
    )
    assert first["contactId"] == second["contactId"]
    [anna] = sandbox.state()["contacts"]
    assert (anna["name"], anna["company"], anna["state"]) == (
        "Anna",
        "Acme",
        "CUSTOMER",
    )
    assert anna["properties"] == {"a": "1", "b": "2"}
    assert anna["tags"] == ["VIP"]
    assert anna["optedOut"] is True


def test_upsert_answers_external_id_when_set(sandbox):
    answer = upsert(sandbox, "a@x.com", contact={"externalId": "U123456"})
    assert answer["externalId"] == "U123456"


def test_new_email_renames_the_contact(sandbox):
    contact_id = upsert(sandbox, "old@x.com")["contactId"]
    assert upsert(sandbox, "old@x.com", newEmail="new@x.com")["contactId"] == contact_id
    assert [c["email"] for c in sandbox.state()["contacts"]] == ["new@x.com"]


def test_insert_and_update_keep_to_their_side(sandbox):
    body = {"contact": {"email": "a@x.com"}}
    ok(v2(sandbox, "/api/contact/insert", body))
    assert "already exists" in refused(v2(sandbox, "/api/contact/insert", body))[0]
    missing = {"contact": {"email": "b@x.com"}}
    assert "not found" in refused(v2(sandbox, "/api/contact/update", missing))[0]
    updated = {"email": "a@x.com", "contact": {"name": "A"}}
    ok(v2(sandbox, "/api/contact/update", updated))
    assert sandbox.state()["contacts"][0]["name"] == "A"


def test_contact_validation_reports_every_problem(sandbox):
    body = {
        "contact": {"email": "mma a@gma.com", "state": "VIP"},
        "birthday": "1987-06-05",
        "tags": "VIP",
    }
    messages = refused(v2(sandbox, "/api/contact/upsert", body))
    assert [m.split(":")[0] for m in messages] == [
        "contact.email",
        "contact.state",
        "birthday",
        "tags",
    ]


def test_batchupsert_answers_contact_ids_by_email(sandbox):
    details = [{"contact": {"email": "a@x.com"}}, {"contact": {"email": "b@x.com"}}]
    answer = ok(v2(sandbox, "/api/contact/batchupsert", {"upsertDetails": details}))
    stored = {c["email"]: c["contactId"] for c in sandbox.state()["contacts"]}
    assert answer["contactIds"] == stored


@pytest.mark.parametrize("size", [0, 1001])
def test_batchupsert_takes_1_to_1000_contacts(sandbox, size):
    details = [{"contact": {"email": f"c{i}@x.com"}} for i in range(size)]
    [message] = refused(
        v2(sandbox, "/api/contact/batchupsert", {"upsertDetails": details})
    )
    assert message.startswith("upsertDetails:")


def test_batchupsertv2_gives_a_pollable_job(sandbox):
    details = [{"contact": {"email": "a@x.com"}}]
    request_id = ok(
        v2(sandbox, "/api/contact/batchupsertv2", {"upsertDetails": details})
    )["requestId"]
    status = ok(v2(sandbox, "/api/job/status", {"requestId": request_id}))
    assert status["fileUrl"].startswith("http")
    assert len(sandbox.state()["contacts"]) == 1
    refused(v2(sandbox, "/api/job/status", {"requestId": "unknown"}))


def test_lookups_and_delete(sandbox):
    contact_id = upsert(sandbox, "a@x.com", birthday="19870605")["contactId"]
    has = ok(v2(sandbox, "/api/contact/hasContact", {"email": "A@x.com"}))
    assert (has["result"], has["contactId"]) == (True, contact_id)
    [basic] = ok(v2(sandbox, "/api/contact/basic", {"email": ["a@x.com"]}))["contacts"]
    assert (basic["contactId"], basic["birthdayYear"], basic["birthdayDay"]) == (
        contact_id,
        "1987",
        "05",
    )
    by_id = ok(v2(sandbox, "/api/contact/basicById", {"id": [contact_id]}))["contacts"]
    assert by_id == [basic]
    ok(v2(sandbox, "/api/contact/delete", {"email": "a@x.com"}))
    assert sandbox.state()["contacts"][0]["deleted"] is True
    assert (
        ok(v2(sandbox, "/api/contact/hasContact", {"email": "a@x.com"}))["result"]
        is False
    )
    ok(v2(sandbox, "/api/contact/delete", {"email": "a@x.com", "permanently": True}))
    assert sandbox.state()["contacts"] == []


def test_tags_and_opt_out_endpoints(sandbox):
    upsert(sandbox, "a@x.com", tags=["A"])
    ok(
        v2(
            sandbox,
            "/api/contact/managetags",
            {"email": "a@x.com", "tags": ["B"], "removeTags": ["A"]},
        )
    )
    ok(v2(sandbox, "/api/contact/optout", {"email": "a@x.com"}))
    ok(v2(sandbox, "/api/contact/phoneoptout", {"email": "a@x.com"}))
    [contact] = sandbox.state()["contacts"]
    assert (contact["tags"], contact["optedOut"], contact["optedOutPhone"]) == (
        ["B"],
        True,
        True,
    )


def test_concurrent_upserts_of_one_email_make_one_contact(sandbox):
    def call(_):
        return upsert(sandbox, "same@x.com")["contactId"]

    with ThreadPoolExecutor(max_workers=10) as pool:
        ids = set(pool.map(call, range(30)))
    assert len(ids) == 1
    assert len(sandbox.state()["contacts"]) == 1
    assert sandbox.state()["received"]["contacts"] == 30


# -- events --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/api/v2/contact/addContactExtEvent", "/api/contact/addContactExtEvent"]
)
def test_add_event_on_both_paths(sandbox, path):
    contact_id = upsert(sandbox, "a@x.com")["contactId"]
    body = {
        "email": "a@x.com",
        "contactEvent": contact_event(externalId="O-1", value=9.5),
    }
    event_id = ok(v2(sandbox, path, body))["eventId"]
    [stored] = sandbox.state()["events"]
    assert (stored["eventId"], stored["contactId"]) == (event_id, contact_id)
    assert (stored["externalId"], stored["value"]) == ("O-1", 9.5)


def test_event_for_unknown_contact_is_refused_unless_configured(sandbox):
    body = {"email": "new@x.com", "forceOptIn": True, "contactEvent": contact_event()}
    assert (
        "not found"
        in refused(v2(sandbox, "/api/v2/contact/addContactExtEvent", body))[0]
    )
    with SandboxServer(options=Options(auto_create_contacts=True)) as server:
        ok(v2(server, "/api/v2/contact/addContactExtEvent", body))
        assert [c["email"] for c in server.state()["contacts"]] == ["new@x.com"]


def test_event_validation_reports_every_problem(sandbox):
    upsert(sandbox, "a@x.com")
    event = contact_event(
        contactExtEventType="PARTY",
        date=1616067324,
        value="lots",
        detail21="x",
        description="d" * 2049,
    )
    messages = refused(
        v2(
            sandbox,
            "/api/v2/contact/addContactExtEvent",
            {"email": "a@x.com", "contactEvent": event},
        )
    )
    assert [m.split(":")[0] for m in messages] == [
        "contactEvent.contactExtEventType",
        "contactEvent.date",
        "contactEvent.value",
        "contactEvent.detail21",
        "contactEvent.description",
    ]
    assert "seconds" in messages[1]


def test_batch_events_report_partial_failure(sandbox):
    upsert(sandbox, "a@x.com")
    events = [
        {"email": "a@x.com", "contactEvent": contact_event(externalId="E1")},
        {"email": "ghost@x.com", "contactEvent": contact_event(externalId="E2")},
        {"email": "a@x.com", "contactEvent": contact_event(externalId="E1")},
    ]
    answer = ok(
        v2(sandbox, "/api/v2/contact/addBatchContactExtEvent", {"events": events})
    )
    assert (answer["createdAmount"], answer["failedAmount"]) == (2, 1)
    assert answer["failedContacts"] == ["ghost@x.com"]
    assert answer["message"][0].startswith("events[1].email:")
    state = sandbox.state()
    # Duplicates are kept: counting them is how tests catch a double send.
    assert [e["externalId"] for e in state["events"]] == ["E1", "E1"]
    assert state["event_items"] == ["E1", "E2", "E1"]
    assert state["received"]["events"] == 3


@pytest.mark.parametrize("size", [0, 1001])
def test_batch_events_take_1_to_1000(sandbox, size):
    events = [{"email": "a@x.com", "contactEvent": contact_event()}] * size
    for path in (
        "/api/v2/contact/addBatchContactExtEvent",
        "/api/contact/batchAddContactExtEvent",
    ):
        [message] = refused(v2(sandbox, path, {"events": events}))
        assert message.startswith("events:")


def test_only_the_single_add_answers_an_event_id(sandbox):
    upsert(sandbox, "a@x.com")
    one = {"email": "a@x.com", "contactEvent": contact_event(externalId="E1")}
    added = ok(v2(sandbox, "/api/v2/contact/addContactExtEvent", one))
    batch = ok(
        v2(sandbox, "/api/v2/contact/addBatchContactExtEvent", {"events": [one]})
    )
    assert added["eventId"] == sandbox.state()["events"][0]["eventId"]
    assert set(batch) == {
        "success",
        "message",
        "failedContacts",
        "createdAmount",
        "failedAmount",
    }


def test_update_replaces_the_events_fields_and_answers_its_id(sandbox):
    contact_id = upsert(sandbox, "a@x.com")["contactId"]
    first = contact_event(externalId="O-1", value=10, detail1="card")
    body = {"email": "a@x.com", "contactEvent": first}
    event_id = ok(v2(sandbox, "/api/v2/contact/addContactExtEvent", body))["eventId"]
    change = {
        "contactEvent": contact_event(eventId=event_id, externalId="O-1", value=12)
    }
    answer = ok(v2(sandbox, "/api/contact/updateContactExtEvent", change))
    assert answer["eventId"] == event_id
    state = sandbox.state()
    [stored] = state["events"]
    assert (stored["value"], stored["contactId"]) == (12, contact_id)
    assert "detail1" not in stored  # replaced, not merged
    assert state["event_items"] == ["O-1"] and state["event_updates"] == ["O-1"]


def test_update_needs_an_event_of_the_same_account(sandbox):
    upsert(sandbox, "a@x.com")
    body = {"email": "a@x.com", "contactEvent": contact_event()}
    event_id = ok(v2(sandbox, "/api/v2/contact/addContactExtEvent", body))["eventId"]
    sandbox.add_account(SandboxAccount("other", "other-secret", ("o@x.com",), ""))
    change = {"contactEvent": contact_event(eventId=event_id, value=5)}
    other = {"client_id": "other", "secret": "other-secret", "owner": "o@x.com"}
    [message] = refused(
        v2(sandbox, "/api/contact/updateContactExtEvent", change, **other)
    )
    assert message.startswith("eventId: no event")
    unknown = {"contactEvent": contact_event(eventId="no-such-event")}
    refused(v2(sandbox, "/api/contact/updateContactExtEvent", unknown))
    missing = {"contactEvent": contact_event()}
    [message] = refused(v2(sandbox, "/api/contact/updateContactExtEvent", missing))
    assert message == "contactEvent.eventId: is required"
    assert "value" not in sandbox.state()["events"][0]
    assert sandbox.state()["event_updates"] == []


def test_update_and_delete_event(sandbox):
    upsert(sandbox, "a@x.com")
    body = {"email": "a@x.com", "contactEvent": contact_event(value=1)}
    event_id = ok(v2(sandbox, "/api/v2/contact/addContactExtEvent", body))["eventId"]
    change = {"contactEvent": contact_event(eventId=event_id, value=2)}
    assert ok(v2(sandbox, "/api/v2/contact/updateContactExtEvent", change))[
        "eventId"
    ] == (event_id)
    assert sandbox.state()["events"][0]["value"] == 2
    ok(v2(sandbox, "/api/contact/deleteContactExtEvent", {"eventId": event_id}))
    assert sandbox.state()["events"] == []
    refused(v2(sandbox, "/api/contact/deleteContactExtEvent", {"eventId": event_id}))


# -- API v3 --------------------------------------------------------------------------------


def test_v3_requires_a_known_api_key(sandbox):
    body = {"catalogId": DEMO_CATALOG_ID, "products": [product("S")]}
    response = v3(sandbox, "/v3/product/upsert", body, key="wrong")
    assert response.status_code == 400
    assert response.json()["reasonCode"] == 10
    lower = requests.post(
        sandbox.url + "/v3/product/upsert",
        json=body,
        headers={"api-key": DEMO_V3_API_KEY},
        timeout=5,
    )
    assert lower.status_code == 200


def test_catalog_list_shows_the_demo_catalog(sandbox):
    response = requests.get(
        sandbox.url + "/v3/product/catalogList",
        headers={"API-KEY": DEMO_V3_API_KEY},
        timeout=5,
    )
    catalogs = response.json()["catalogs"]
    assert [(c["catalogId"], c["name"], c["currency"]) for c in catalogs] == [
        (DEMO_CATALOG_ID, "Demo catalog", "SEK")
    ]
    assert response.json()["limits"] == {"max": 5}


def test_catalog_upsert_create_update_limit_delete(sandbox):
    created = v3(sandbox, "/v3/product/catalogUpsert", {"name": "B", "currency": "EUR"})
    catalog_id = created.json()["catalogId"]
    renamed = v3(
        sandbox, "/v3/product/catalogUpsert", {"catalogId": catalog_id, "name": "C"}
    )
    assert renamed.json()["catalogId"] == catalog_id
    assert (
        v3(sandbox, "/v3/product/catalogUpsert", {"name": "D"}).json()["reasonCode"]
        == 13
    )
    bad = v3(sandbox, "/v3/product/catalogUpsert", {"name": "D", "currency": "kronor"})
    assert bad.json()["reasonCode"] == 18
    for name in "EFG":
        v3(sandbox, "/v3/product/catalogUpsert", {"name": name, "currency": "EUR"})
    full = v3(sandbox, "/v3/product/catalogUpsert", {"name": "H", "currency": "EUR"})
    assert (full.status_code, full.json()["reasonCode"]) == (400, 19)
    assert v3(sandbox, "/v3/product/catalogDelete", {"catalogId": catalog_id}).ok
    assert len(sandbox.state()["catalogs"]) == 4


def test_product_problems_carry_reason_codes_and_store_nothing(sandbox):
    products = [
        {"productId": "S1", "mainCategory": "Shoes"},
        product("S2", price="cheap", available="yes"),
        product("S3", productUrl="example.com/s3"),
        product("S4", name="n" * 256),
        product("S4"),
    ]
    response = v3(
        sandbox,
        "/v3/product/upsert",
        {"catalogId": DEMO_CATALOG_ID, "products": products},
    )
    assert response.status_code == 400
    assert codes(response) == [11, 13, 14, 14, 15, 18]
    messages = [p["message"] for p in response.json()["problems"]]
    assert "products[0].name|Required field is missing" in messages
    assert "products[1].price:number|Wrong field type" in messages
    assert sandbox.state()["products"] == []


@pytest.mark.parametrize("size", [0, 101])
def test_product_upsert_takes_1_to_100(sandbox, size):
    products = [product(f"S{i}") for i in range(size)]
    response = v3(
        sandbox,
        "/v3/product/upsert",
        {"catalogId": DEMO_CATALOG_ID, "products": products},
    )
    assert (response.status_code, response.json()["reasonCode"]) == (400, 11)


def test_product_upsert_of_100_answers_their_ids(sandbox):
    products = [product(f"S{i}") for i in range(100)]
    response = v3(
        sandbox,
        "/v3/product/upsert",
        {"catalogId": DEMO_CATALOG_ID, "products": products},
    )
    assert response.status_code == 200
    assert response.json()["productIds"] == [f"S{i}" for i in range(100)]
    assert "problems" not in response.json()


def test_unknown_catalog_is_reason_16(sandbox):
    response = v3(
        sandbox, "/v3/product/upsert", {"catalogId": "nope", "products": [product("S")]}
    )
    assert (response.status_code, response.json()["reasonCode"]) == (400, 16)


def test_trimmed_text_is_a_reason_12_warning_with_http_200(sandbox):
    body = {
        "catalogId": DEMO_CATALOG_ID,
        "products": [
            product("S", description="d" * 2100, systemDetails={"color": "c" * 50})
        ],
    }
    response = v3(sandbox, "/v3/product/upsert", body)
    assert response.status_code == 200
    assert codes(response) == [12, 12]
    [stored] = sandbox.state()["products"]
    assert (len(stored["description"]), stored["systemDetails"]["color"]) == (
        2048,
        "c" * 40,
    )


def test_upsert_merges_and_set_as_null_clears(sandbox):
    first = product("S", price=10, discountPrice=8, customDetails={"detail1": "a"})
    v3(
        sandbox,
        "/v3/product/upsert",
        {"catalogId": DEMO_CATALOG_ID, "products": [first]},
    )
    second = product("S", customDetails={"detail2": "b"}, setAsNull=["discountPrice"])
    v3(
        sandbox,
        "/v3/product/upsert",
        {"catalogId": DEMO_CATALOG_ID, "products": [second]},
    )
    [stored] = sandbox.state()["products"]
    assert stored["price"] == 10
    assert "discountPrice" not in stored
    assert stored["customDetails"] == {"detail1": "a", "detail2": "b"}


def test_update_quantity_and_price(sandbox):
    v3(
        sandbox,
        "/v3/product/upsert",
        {"catalogId": DEMO_CATALOG_ID, "products": [product("S")]},
    )
    quantity = {
        "catalogId": DEMO_CATALOG_ID,
        "products": [{"productId": "S", "quantity": 7}],
    }
    assert "requestId" in v3(sandbox, "/v3/product/updateQuantity", quantity).json()
    price = {
        "catalogId": DEMO_CATALOG_ID,
        "products": [{"productId": "S", "price": 29.99, "discountPrice": 24.99}],
    }
    assert v3(sandbox, "/v3/product/updatePrice", price).status_code == 200
    [stored] = sandbox.state()["products"]
    assert (stored["quantity"], stored["price"], stored["discountPrice"]) == (
        7,
        29.99,
        24.99,
    )
    unknown = {
        "catalogId": DEMO_CATALOG_ID,
        "products": [{"productId": "X", "quantity": 1}],
    }
    assert codes(v3(sandbox, "/v3/product/updateQuantity", unknown)) == [16]


def test_v3_body_must_be_json(sandbox):
    response = requests.post(
        sandbox.url + "/v3/product/upsert",
        data=b"{",
        headers={"API-KEY": DEMO_V3_API_KEY},
        timeout=5,
    )
    assert response.status_code == 400
    assert response.json()["messages"] == ["Specified json is not valid"]


# -- control API ---------------------------------------------------------------------------


def test_faults_set_over_http_fail_the_next_calls(sandbox):
    answer = post(
        sandbox, "/_sandbox/faults", {"kind": "503", "count": 2, "retry_after": 3}
    )
    assert answer.json()["faults"][0]["remaining"] == 2
    body = signed({"contact": {"email": "a@x.com"}})
    statuses = [
        post(sandbox, "/api/contact/upsert", body).status_code for _ in range(3)
    ]
    assert statuses == [503, 503, 200]
    assert sandbox.state()["calls"] == {"/api/contact/upsert": 3}
    assert sandbox.state()["received"]["contacts"] == 1


@pytest.mark.parametrize(
    "kind,status,content_type",
    [
        ("500", 500, "text/html"),
        ("429", 429, "application/json;charset=UTF-8"),
        ("non_json", 200, "text/html"),
        ("success_false", 200, "application/json;charset=UTF-8"),
    ],
)
def test_each_fault_kind_answers_its_way(sandbox, kind, status, content_type):
    sandbox.fail_next(kind, retry_after=4)
    response = post(
        sandbox, "/api/contact/upsert", signed({"contact": {"email": "a@x.com"}})
    )
    assert (response.status_code, response.headers["Content-Type"]) == (
        status,
        content_type,
    )
    if kind == "429":
        assert response.headers["Retry-After"] == "4"
    if kind == "success_false":
        assert response.json() == {"success": False, "message": ["Not authenticated"]}


def test_timeout_fault_can_let_the_request_through(sandbox):
    sandbox.fail_next("timeout", delay=1, process=True)
    with pytest.raises(requests.Timeout):
        post(
            sandbox,
            "/api/contact/upsert",
            signed({"contact": {"email": "a@x.com"}}),
            timeout=0.3,
        )
    assert len(sandbox.state()["contacts"]) == 1


def test_bad_fault_requests_are_refused(sandbox):
    assert post(sandbox, "/_sandbox/faults", {"kind": "meteor"}).status_code == 400
    assert (
        post(sandbox, "/_sandbox/faults", {"kind": "500", "count": 0}).status_code
        == 400
    )
    assert post(sandbox, "/_sandbox/faults", {"count": 1}).status_code == 400


def test_reset_clears_data_and_faults_over_http(sandbox):
    upsert(sandbox, "a@x.com")
    sandbox.fail_next("500", count=5)
    assert post(sandbox, "/_sandbox/reset", {}).json() == {"ok": True}
    state = requests.get(sandbox.url + "/_sandbox/state", timeout=5).json()
    assert (state["contacts"], state["calls"]) == ([], {})
    upsert(sandbox, "b@x.com")


def test_accounts_added_over_http_are_kept_apart(sandbox):
    staging = {
        "clientId": "staging-client",
        "apiSecret": "staging-secret",
        "owners": ["owner@staging.example"],
        "v3ApiKey": "staging-v3",
        "catalogs": [{"catalogId": "staging-catalog", "name": "S", "currency": "EUR"}],
    }
    assert post(sandbox, "/_sandbox/accounts", staging).json() == {"ok": True}
    upsert(sandbox, "a@x.com")
    ok(
        v2(
            sandbox,
            "/api/contact/upsert",
            {"contact": {"email": "s@x.com"}},
            client_id="staging-client",
            secret="staging-secret",
            owner="owner@staging.example",
        )
    )
    url = sandbox.url + "/_sandbox/state?clientId=staging-client"
    state = requests.get(url, timeout=5).json()
    assert [c["email"] for c in state["contacts"]] == ["s@x.com"]
    assert [c["catalogId"] for c in state["catalogs"]] == ["staging-catalog"]
    assert len(sandbox.state()["contacts"]) == 2
    # A key of one account cannot write to another account's catalog.
    body = {"catalogId": DEMO_CATALOG_ID, "products": [product("S")]}
    assert (
        v3(sandbox, "/v3/product/upsert", body, key="staging-v3").json()["reasonCode"]
        == 16
    )


def test_request_log_keeps_no_credentials(sandbox):
    upsert(sandbox, "a@x.com")
    v3(
        sandbox,
        "/v3/product/upsert",
        {"catalogId": DEMO_CATALOG_ID, "products": [product("S")]},
    )
    v2_entry, v3_entry = sandbox.state()["requests"]
    assert v2_entry["path"] == "/api/contact/upsert"
    assert v2_entry["body"]["contact"] == {"email": "a@x.com"}
    assert not {"apiKey", "sha"} & set(v2_entry["body"])
    assert DEMO_V3_API_KEY not in str(v3_entry)


# -- management command --------------------------------------------------------------------


def test_management_command_serves_until_interrupted():
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    process = subprocess.Popen(
        sandbox_command(port),
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        state_url = f"http://127.0.0.1:{port}/_sandbox/state"
        wait_for(lambda: answers(state_url), 20, "the sandbox to answer")
        state = requests.get(state_url, timeout=5).json()
        server = type("Remote", (), {"url": f"http://127.0.0.1:{port}"})
        upsert(server, "a@x.com")
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    assert state["contacts"] == []
    assert process.returncode == 0
    assert f"http://127.0.0.1:{port}" in out
    assert "POST /api/contact/upsert -> 200" in err
    assert "demo-secret" not in out + err


# -- consent and delete (issue 14) -------------------------------------------------------


def test_a_contact_is_opted_in_only_when_asked_and_no_change_keeps_its_consent(
    sandbox,
):
    upsert(sandbox, "plain@x.com")
    upsert(sandbox, "in@x.com", forceOptIn=True, forcePhoneOptIn=True)
    no_change = dict.fromkeys(
        ("forceOptIn", "forceOptOut", "forcePhoneOptIn", "forcePhoneOptOut"), False
    )
    ok(v2(sandbox, "/api/contact/optout", {"email": "in@x.com"}))
    upsert(sandbox, "in@x.com", contact={"name": "In"}, **no_change)
    contacts = {c["email"]: c for c in sandbox.state()["contacts"]}
    assert (
        contacts["plain@x.com"]["optedOut"],
        contacts["plain@x.com"]["optedOutPhone"],
    ) == (
        True,
        True,
    )
    assert contacts["in@x.com"]["optedOut"] is True  # the opt-out stayed
    assert contacts["in@x.com"]["optedOutPhone"] is False
    assert contacts["in@x.com"]["name"] == "In"


def test_a_permanent_delete_takes_the_contacts_events_and_a_soft_one_keeps_them(
    sandbox,
):
    for email in ("gone@x.com", "hidden@x.com"):
        upsert(sandbox, email)
        body = {"email": email, "contactEvent": contact_event()}
        ok(v2(sandbox, "/api/v2/contact/addContactExtEvent", body))
    ok(v2(sandbox, "/api/contact/delete", {"email": "gone@x.com", "permanently": True}))
    ok(v2(sandbox, "/api/contact/delete", {"email": "hidden@x.com"}))
    state = sandbox.state()
    assert [(c["email"], c["deleted"]) for c in state["contacts"]] == [
        ("hidden@x.com", True)
    ]
    assert [e["email"] for e in state["events"]] == ["hidden@x.com"]


def test_faults_can_be_cleared_without_losing_data(sandbox):
    upsert(sandbox, "kept@x.com")
    sandbox.fail_next("503", 1000)
    assert (
        post(
            sandbox, "/api/contact/basic", signed({"email": ["kept@x.com"]})
        ).status_code
        == 503
    )
    sandbox.clear_faults()
    assert sandbox.sandbox.faults() == []
    [contact] = ok(v2(sandbox, "/api/contact/basic", {"email": ["kept@x.com"]}))[
        "contacts"
    ]
    assert contact["email"] == "kept@x.com"
