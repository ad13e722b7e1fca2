"""Tenant isolation: two customers, ``acme`` and ``globex``, and nothing of one ever
reaches the other's key, over real signed HTTP.

Both have a ``person`` type with the same Hard-ID field and a ``purchase`` event, the
same group key name ``main_group``, and Salesmanago accounts; each also has types and a
group key of its own. Every request goes through ``send``, which signs it with
botocore and checks that the answer holds no trace of the other customer (its types,
group keys, Datatalks IDs, data, keys or accounts) beyond what the request itself said.
"""

import json
import uuid
from dataclasses import dataclass, field

import pytest
import requests
from django.contrib.auth.models import Group
from django.core.management import call_command

from datatalks.roles import SUPPORT
from ingestion import sigv4, throttling
from ingestion.credentials import credential_create
from ingestion.models import DataPoint, IdentityCollision, RequestLog
from integrations.models import Delivery, IntegrationMapping, SalesmanagoAccount
from mappings.models import Category, Customer, DataPointType, FieldMapping, GroupKey
from tests.harness.signing import sign_with_botocore

pytestmark = pytest.mark.django_db(transaction=True)

PATHS = {"profile": "profiles", "event": "events", "inventory": "inventory"}
ENDPOINTS = [
    (f"/{version}/{path}", category)
    for version in ("v2", "v3")
    for category, path in PATHS.items()
] + [(f"/v3/{path}/batch", category) for category, path in PATHS.items()]
# The types, group key and data only one customer has.
OWN = {
    "acme": {
        "types": {
            "profile": "roadrunner_fan",
            "event": "anvil_drop",
            "inventory": "anvil",
        },
        "group_key": "acme_west",
        "email": "wile.e.coyote@acme.example",
    },
    "globex": {
        "types": {
            "profile": "hank_fan",
            "event": "doomsday_countdown",
            "inventory": "doomsday_device",
        },
        "group_key": "globex_north",
        "email": "hank.scorpio@globex.example",
    },
}


@dataclass
class Tenant:
    customer: Customer
    key: str
    secret: str
    types: dict[str, str]
    group_key: str
    email: str
    url: str
    other: "Tenant | None" = field(default=None, repr=False)

    def traces(self) -> set[str]:
        """What would give this customer away in someone else's answer."""
        found = {
            self.customer.slug,
            self.customer.name,
            self.key,
            self.secret,
            self.group_key,
            self.email,
            *self.types.values(),
        }
        found |= set(
            SalesmanagoAccount.objects.filter(customer=self.customer).values_list(
                "client_id", flat=True
            )
        )
        for pk, data in DataPoint.objects.filter(customer=self.customer).values_list(
            "pk", "data"
        ):
            found.add(str(pk))
            found |= {v for v in data.values() if isinstance(v, str) and len(v) > 5}
        return found


def field_of(dpt, source, data_type, **options) -> FieldMapping:
    return FieldMapping.objects.create(
        data_point_type=dpt,
        source_field=source,
        cdp_field=source,
        data_type=data_type,
        **options,
    )


def active_type(customer, category, name, *fields) -> DataPointType:
    dpt = DataPointType.objects.create(customer=customer, category=category, name=name)
    for source, data_type, options in fields:
        field_of(dpt, source, data_type, **options)
    dpt.active = True
    dpt.save()
    return dpt


def build_tenant(slug: str, url: str) -> Tenant:
    """A customer with the shared types, its own types and group key, two accounts
    (one per group key), a Salesmanago mapping for person, and a key."""
    own = OWN[slug]
    customer = Customer.objects.create(
        name=f"{slug.title()} Corporation", slug=slug, salesmanago_enabled=True
    )
    keys = [
        GroupKey.objects.create(customer=customer, key="main_group", is_default=True),
        GroupKey.objects.create(customer=customer, key=own["group_key"]),
    ]
    person = active_type(
        customer,
        Category.PROFILE,
        "person",
        ("customer_id", "integer", {"hard_id": True}),
        ("email", "email", {"optional": True, "secondary_id": True}),
    )
    purchase = active_type(
        customer,
        Category.EVENT,
        "purchase",
        ("order_id", "string", {"hard_id": True}),
        (
            "customer_id",
            "integer",
            {"references": person.fields.get(source_field="customer_id")},
        ),
    )
    for category, name in own["types"].items():
        active_type(customer, category, name, ("code", "string", {"hard_id": True}))
    for key in keys:
        SalesmanagoAccount.objects.create(
            customer=customer,
            group_key=key,
            base_url="https://app3.salesmanago.com",
            client_id=f"{slug}-{key.key}-client",
            api_secret=f"{slug}-sm-secret",
            owner_email=f"owner@{slug}.example",
        )
    IntegrationMapping.objects.create(data_point_type=person)
    IntegrationMapping.objects.create(data_point_type=purchase)
    credential, secret = credential_create(customer=customer, description="isolation")
    return Tenant(
        customer=customer,
        key=credential.access_key_id,
        secret=secret,
        types=own["types"],
        group_key=own["group_key"],
        email=own["email"],
        url=url,
    )


@pytest.fixture
def acme_and_globex(live_server):
    acme = build_tenant("acme", live_server.url)
    globex = build_tenant("globex", live_server.url)
    acme.other, globex.other = globex, acme
    return acme, globex


@pytest.fixture
def acme(acme_and_globex):
    return acme_and_globex[0]


@pytest.fixture
def globex(acme_and_globex):
    return acme_and_globex[1]


def send(tenant: Tenant, method: str, path: str, body=None, *, as_key=None):
    """A request signed by ``tenant``'s key (or ``as_key=(key, secret)``) with botocore;
    fails if the answer holds anything of the other customer the request did not say."""
    url = tenant.url + path
    data = json.dumps(body).encode() if body is not None else b""
    key, secret = as_key or (tenant.key, tenant.secret)
    headers = sign_with_botocore(
        method,
        url,
        data,
        key=key,
        secret=secret,
        headers={"Content-Type": "application/json"} if body is not None else {},
    )
    response = requests.request(
        method, url, data=data, headers=headers, timeout=30, allow_redirects=False
    )
    assert_no_trace(response, of=tenant.other, sent=data.decode() + path)
    return response


def assert_no_trace(response, *, of: Tenant, sent: str) -> None:
    answer = response.text + json.dumps(dict(response.headers))
    for trace in of.traces():
        if trace not in sent:
            assert trace not in answer, f"{of.customer.slug}'s {trace!r} leaked"


def body_for(path: str, type_name: str, data: dict, **envelope) -> dict:
    item = {"type": type_name, "groupKey": "main_group", "data": data, **envelope}
    return {"items": [item]} if path.endswith("/batch") else item


def outcome(response) -> tuple[int, list[str], str | None]:
    """(status, messages, datatalksId) of a single request or a one-item batch."""
    body = response.json()
    if "results" in body:
        [item] = body["results"]
        return response.status_code, item["messages"], item["datatalksId"]
    return response.status_code, body["messages"], body["datatalksId"]


def ingest(tenant: Tenant, path: str, type_name: str, data: dict, **envelope) -> str:
    status, messages, datatalks_id = outcome(
        send(tenant, "POST", path, body_for(path, type_name, data, **envelope))
    )
    assert status == 200 and not messages, messages
    return datatalks_id


def sample(tenant: Tenant, category: str) -> tuple[str, dict]:
    """A valid item of a type only this customer has, in the category."""
    return tenant.types[category], {"code": f"{tenant.customer.slug}-1"}


def snapshot(customer: Customer) -> list[tuple]:
    return list(
        DataPoint.objects.filter(customer=customer)
        .order_by("pk")
        .values_list("pk", "revision", "hard_id", "data", "profile_id")
    )


# Ids and data.


def test_the_same_hard_id_gives_each_customer_its_own_data_point(acme, globex):
    a = ingest(
        acme, "/v3/profiles", "person", {"customer_id": 1001, "email": acme.email}
    )
    g = ingest(
        globex, "/v3/profiles", "person", {"customer_id": 1001, "email": globex.email}
    )
    assert a != g
    assert ingest(acme, "/v2/profiles", "person", {"customer_id": 1001}) == a
    rows = {str(dp.pk): dp for dp in DataPoint.objects.all()}
    assert (rows[a].customer_id, rows[a].revision) == (acme.customer.pk, 2)
    assert (rows[g].customer_id, rows[g].revision) == (globex.customer.pk, 1)
    assert rows[g].data["email"] == globex.email
    for log in RequestLog.objects.all():
        owner = acme if log.access_key_id == acme.key else globex
        assert log.customer_id == owner.customer.pk


def test_every_answer_names_only_the_callers_key(acme, globex):
    for tenant in (acme, globex):
        response = send(tenant, "POST", "/v3/profiles", body_for("", "person", {}))
        assert response.status_code == 400
        assert response.json()["key"] == tenant.key


@pytest.mark.parametrize("path,category", ENDPOINTS)
@pytest.mark.parametrize("direction", ["globex->acme", "acme->globex"])
def test_a_type_of_the_other_customer_is_refused_like_an_unknown_one(
    acme, globex, path, category, direction
):
    sender, owner = (globex, acme) if direction == "globex->acme" else (acme, globex)
    before = snapshot(owner.customer)
    type_name, data = sample(owner, category)
    theirs = outcome(send(sender, "POST", path, body_for(path, type_name, data)))
    unknown = outcome(send(sender, "POST", path, body_for(path, "no_such_type", data)))
    assert theirs[0] == unknown[0] == (200 if path.endswith("/batch") else 400)
    assert theirs[1] == [m.replace("no_such_type", type_name) for m in unknown[1]]
    assert theirs[2] is None
    assert snapshot(owner.customer) == before
    assert not DataPoint.objects.filter(customer=sender.customer).exists()


@pytest.mark.parametrize("path,category", ENDPOINTS)
def test_a_datatalks_id_of_the_other_customer_is_refused_like_an_unknown_one(
    acme, globex, path, category
):
    shared = {
        "profile": ("person", {"customer_id": 1001}),
        "event": ("purchase", {"order_id": "A-1", "customer_id": 1001}),
    }
    acme_type, data = shared.get(category) or sample(acme, category)
    globex_type = shared[category][0] if category in shared else globex.types[category]
    acme_id = ingest(acme, path, acme_type, data)
    before = snapshot(acme.customer)
    answers = [
        outcome(
            send(
                globex,
                "POST",
                path,
                body_for(path, globex_type, data, datatalksId=datatalks_id),
            )
        )
        for datatalks_id in (acme_id, str(uuid.uuid4()))
    ]
    (status, theirs, stored), (unknown_status, unknown, _) = answers
    assert status == unknown_status and stored is None
    assert theirs == [m.replace(m.split()[1], acme_id) for m in unknown]
    assert theirs == [
        f"datatalksId: {acme_id} is not a {globex_type} data point of yours"
    ]
    assert snapshot(acme.customer) == before
    assert not DataPoint.objects.filter(customer=globex.customer).exists()


@pytest.mark.parametrize("path,category", ENDPOINTS)
def test_a_group_key_of_the_other_customer_is_refused_like_an_unknown_one(
    acme, globex, path, category
):
    type_name, data = sample(acme, category)
    answers = [
        outcome(send(acme, "POST", path, body_for(path, type_name, data, groupKey=key)))
        for key in (globex.group_key, "no_such_key")
    ]
    (status, theirs, stored), (unknown_status, unknown, _) = answers
    assert status == unknown_status and stored is None
    assert theirs == [m.replace("no_such_key", globex.group_key) for m in unknown]
    assert theirs == [f'groupKey: "{globex.group_key}" is not one of your group keys']
    assert not DataPoint.objects.exists()


def test_a_hard_id_the_other_customer_uses_is_free_to_change_to(acme, globex):
    taken = ingest(acme, "/v3/profiles", "person", {"customer_id": 1001})
    mine = ingest(globex, "/v3/profiles", "person", {"customer_id": 2002})
    moved = ingest(
        globex, "/v3/profiles", "person", {"customer_id": 1001}, datatalksId=mine
    )
    assert moved == mine
    assert DataPoint.objects.get(pk=taken).customer_id == acme.customer.pk
    # The same change within one customer is a conflict, which names the owner.
    other = ingest(acme, "/v3/profiles", "person", {"customer_id": 3003})
    status, messages, _ = outcome(
        send(
            acme,
            "POST",
            "/v3/profiles",
            body_for("", "person", {"customer_id": 1001}, datatalksId=other),
        )
    )
    assert status == 400 and taken in messages[0]


def test_secondary_ids_never_collide_across_customers(acme, globex):
    shared_email = "same.person@example.com"
    ingest(acme, "/v3/profiles", "person", {"customer_id": 1, "email": shared_email})
    ingest(globex, "/v3/profiles", "person", {"customer_id": 2, "email": shared_email})
    assert not IdentityCollision.objects.exists()
    ingest(acme, "/v3/profiles", "person", {"customer_id": 3, "email": shared_email})
    [collision] = IdentityCollision.objects.all()
    assert collision.customer_id == acme.customer.pk
    assert collision.owner.customer_id == collision.claimant.customer_id


def test_events_link_only_to_their_own_customers_profiles(acme, globex):
    ingest(acme, "/v3/profiles", "person", {"customer_id": 1001})
    g_event = ingest(
        globex, "/v3/events", "purchase", {"order_id": "G-1", "customer_id": 1001}
    )
    a_event = ingest(
        acme, "/v3/events", "purchase", {"order_id": "A-1", "customer_id": 3003}
    )
    assert DataPoint.objects.get(pk=g_event).profile_id is None
    g_person = ingest(globex, "/v3/profiles", "person", {"customer_id": 3003})
    assert DataPoint.objects.get(pk=a_event).profile_id is None
    g_1001 = ingest(globex, "/v3/profiles", "person", {"customer_id": 1001})
    assert str(DataPoint.objects.get(pk=g_event).profile_id) == g_1001
    a_person = ingest(acme, "/v3/profiles", "person", {"customer_id": 3003})
    assert str(DataPoint.objects.get(pk=a_event).profile_id) == a_person != g_person


def test_deliveries_go_only_to_the_senders_own_accounts(acme, globex):
    for tenant in (acme, globex):
        ingest(tenant, "/v3/profiles", "person", {"customer_id": 1001})
        ingest(
            tenant,
            "/v3/profiles",
            "person",
            {"customer_id": 1002},
            groupKey=tenant.group_key,
        )
    for tenant in (acme, globex):
        sent = Delivery.objects.filter(data_point__customer=tenant.customer)
        assert sent.count() == 2
        assert {d.account.customer_id for d in sent} == {tenant.customer.pk}
        assert {d.account.group_key.key for d in sent} == {
            "main_group",
            tenant.group_key,
        }


def test_one_customers_rate_limit_leaves_the_other_alone(acme, globex, settings):
    if not settings.REDIS_URL:
        pytest.fail("the rate limit needs Redis (make test provides it)")
    throttling._breaker_until = 0.0
    Customer.objects.filter(pk=acme.customer.pk).update(rate_limit_per_minute=2)
    body = body_for("", "person", {"customer_id": 1})
    codes = [send(acme, "POST", "/v3/profiles", body).status_code for _ in range(5)]
    assert 429 in codes
    assert send(globex, "POST", "/v3/profiles", body).status_code == 200


# Keys.


def test_the_other_customers_secret_does_not_sign_for_a_key(acme, globex):
    body = body_for("", "person", {"customer_id": 1})
    for key, secret in ((acme.key, globex.secret), (globex.key, acme.secret)):
        response = send(globex, "POST", "/v3/profiles", body, as_key=(key, secret))
        assert response.status_code == 403
        assert response.json()["messages"][0].startswith(sigv4.SIGNATURE_MISMATCH[:40])
        assert response.json()["key"] is None
    assert not DataPoint.objects.exists()


# Documents.


def test_v3_schema_describes_only_the_callers_types(acme, globex):
    for tenant in (acme, globex):
        for query in ("", "?document=json-schema"):
            response = send(tenant, "GET", "/v3/schema" + query)
            assert response.status_code == 200, response.text
            for name in tenant.types.values():
                assert name in response.text


def test_the_public_api_docs_name_no_customer(acme, globex):
    for path in ("/api/schema/", "/api/docs/", "/api/redoc/"):
        response = requests.get(acme.url + path, timeout=30)
        assert response.status_code == 200
        for tenant in (acme, globex):
            assert_no_trace(response, of=tenant, sent="")


# The admin.


def test_a_signed_api_key_cannot_reach_the_admin(acme, globex):
    ingest(acme, "/v3/profiles", "person", {"customer_id": 1001})
    pages = [
        "/admin/",
        "/admin/ingestion/datapoint/",
        "/admin/ingestion/apicredential/",
        f"/admin/mappings/customer/{acme.customer.pk}/change/",
    ]
    for page in pages:
        response = send(acme, "GET", page)
        assert response.status_code == 302, page
        assert response.headers["Location"].startswith("/admin/login/")
        assert_no_trace(response, of=acme, sent=page)
    deactivate = {"action": "deactivate", "_selected_action": ["1"], "index": "0"}
    response = send(acme, "POST", "/admin/ingestion/apicredential/", deactivate)
    assert response.status_code in (302, 403)
    assert_no_trace(response, of=acme, sent="/admin/ingestion/apicredential/")


def test_the_admin_needs_a_staff_session(acme, globex, client, django_user_model):
    changelist = "/admin/ingestion/datapoint/"
    ingest(acme, "/v3/profiles", "person", {"customer_id": 1001, "email": acme.email})
    assert client.get(changelist).status_code == 302
    customer_user = django_user_model.objects.create_user("acme-user", password="pw")
    client.force_login(customer_user)
    response = client.get(changelist)
    assert response.status_code == 302 and acme.email not in response.content.decode()
    staff = django_user_model.objects.create_user("support", is_staff=True)
    call_command("setup_roles", verbosity=0)
    staff.groups.add(Group.objects.get(name=SUPPORT))
    client.force_login(staff)
    listing = client.get(changelist).content.decode()
    assert "1001" in listing and "Acme Corporation" in listing
