"""Fuzzing the live API from its own OpenAPI document with schemathesis.

Every documented operation gets ``DATATALKS_FUZZ_EXAMPLES`` generated requests (100 in
``make test``, 500 in ``make soak``), each signed with botocore's SigV4Auth for a real
key of the demo customer, over real HTTP. A third of the bodies are schemathesis's own
(schema-conforming), a third break the schema on purpose, and a third are steered to the
demo customer's real types and fields with hostile values, so the mapping validation is
reached too. Every response must be no 5xx, have a documented status code, content type
and body.
"""

import itertools
import os
from dataclasses import dataclass

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connection
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    rule,
    run_state_machine_as_test,
)
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ingestion.credentials import credential_create
from mappings.demo import demo_load
from mappings.spec import spec_for_customer
from tests.harness.faults import Gunicorn, record_figures, server_env
from tests.harness.signing import signed_session

EXAMPLES = int(os.environ.get("DATATALKS_FUZZ_EXAMPLES", "100"))
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]
CATEGORY = {"profiles": "profile", "events": "event", "inventory": "inventory"}
# The data is committed once for the module (see ``target``); the tests only read.
pytestmark = pytest.mark.django_db


DOCUMENT = SchemaGenerator().get_schema(request=None, public=True)


def documented_operations() -> list[tuple[str, str]]:
    """(path, method) of every operation in the OpenAPI document, at collection."""
    return sorted(
        (path, method.upper())
        for path, item in DOCUMENT["paths"].items()
        for method in item
    )


def examples_possible(path: str, method: str) -> int:
    """How many different requests there are to make: one for an operation that takes
    no input (GET /healthz), EXAMPLES for the others."""
    operation = DOCUMENT["paths"][path][method.lower()]
    takes_input = operation.get("parameters") or operation.get("requestBody")
    return EXAMPLES if takes_input else 1


OPERATIONS = documented_operations()


# Values a customer's system might send by mistake, or an attacker on purpose.
hostile_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**63 - 2, max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=3)
    | st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "a\x00b",
            "\u0661\u0662\u0663",
            "\U0001d7d9\U0001d7da",
            "Yes",
            "No",
            "true",
        ]
    )
    | st.from_regex(r"\d{19,40}", fullmatch=True)
    | st.from_regex(r"\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2})?", fullmatch=True)
    | st.emails()
)
hostile_values = hostile_scalars | st.lists(hostile_scalars, max_size=4)


def good_value(data_type: str):
    """Values of a data type that its parser accepts, so whole bodies can pass."""
    return {
        "integer": st.integers(min_value=1, max_value=10**6),
        "decimal": st.decimals(places=2, min_value=0, max_value=10**6).map(float),
        "boolean": st.sampled_from(["Yes", "No", True, False]),
        "date": st.dates().map(lambda d: d.isoformat()),
        "datetime": st.datetimes().map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S")),
        "email": st.from_regex(r"[a-z]{1,8}@[a-z]{1,8}\.(com|se|org)", fullmatch=True),
        "list": st.lists(st.text(max_size=10), max_size=3),
    }.get(data_type, st.text(min_size=1, max_size=30))


def valid_item(type_spec):
    """A body of a real type that passes its mapping (hostile only in being odd)."""
    required = {
        f.source: good_value(f.data_type) for f in type_spec.fields if not f.optional
    }
    optional = {
        f.source: good_value(f.data_type) for f in type_spec.fields if f.optional
    }
    return st.fixed_dictionaries(
        {
            "type": st.just(type_spec.name),
            "groupKey": st.just("main_group"),
            "data": st.fixed_dictionaries(required, optional=optional),
        }
    )


def hostile_item(type_spec):
    """A body of a real type whose fields hold anything at all."""
    fields = {
        f.source: good_value(f.data_type) | hostile_values for f in type_spec.fields
    }
    return st.fixed_dictionaries(
        {
            "type": st.just(type_spec.name),
            "data": st.fixed_dictionaries({}, optional=fields),
        },
        optional={
            "groupKey": st.sampled_from(["main_group", "no_such_group", ""]),
            "datatalksId": st.none() | st.uuids().map(str) | st.text(max_size=5),
        },
    )


def steered_item(spec, category: str):
    """A body for one of the customer's real types: valid, or with hostile values."""
    types = sorted(spec.types.values(), key=lambda t: t.name)
    own = [t for t in types if t.category == category]
    return st.sampled_from(own).flatmap(valid_item) | st.sampled_from(types).flatmap(
        hostile_item
    )


def ingests(path: str, method: str) -> bool:
    """Whether the operation stores data points (and so takes steered bodies)."""
    return method == "POST" and path.split("/")[2] in CATEGORY


def cases(operation, spec, path: str, method: str):
    """schemathesis's positive and negative cases, and cases steered to real types."""
    positive = operation.as_strategy(GenerationMode.POSITIVE)
    negative = operation.as_strategy(GenerationMode.NEGATIVE)
    if not ingests(path, method):
        return positive | negative
    category = CATEGORY[path.split("/")[2]]
    item = steered_item(spec, category)
    body = (
        st.fixed_dictionaries({"items": st.lists(item, min_size=1, max_size=5)})
        if path.endswith("/batch")
        else item
    )
    positive = operation.as_strategy(GenerationMode.POSITIVE)
    steered = st.tuples(positive, body).map(lambda pair: _with_body(*pair))
    return st.one_of(positive, operation.as_strategy(GenerationMode.NEGATIVE), steered)


def _with_body(case, body):
    case.body = body
    return case


@dataclass(frozen=True)
class Target:
    """The API under gunicorn on the test database, and the demo customer's key."""

    url: str
    key: str
    secret: str
    spec: object

    def session(self):
        return signed_session(self.key, self.secret)


@pytest.fixture(scope="module")
def target(django_db_setup, django_db_blocker, tmp_path_factory):
    """One server and one committed demo customer for the whole module (gunicorn in its
    own processes runs beside the generator, instead of sharing its GIL)."""
    with django_db_blocker.unblock():
        demo = demo_load()
        credential, secret = credential_create(customer=demo, description="fuzz")
        spec = spec_for_customer(customer=demo)
        db = connection.settings_dict
        url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        log = tmp_path_factory.mktemp("fuzz") / "gunicorn.log"
        server = Gunicorn(server_env(url, django_settings.REDIS_URL), log).start()
        try:
            yield Target(server.url, credential.access_key_id, secret, spec)
        finally:
            server.stop()
            # As pytest-django does: sequences go on, so ids (and the specs cached
            # by customer id) are never reused by the next tests.
            call_command("flush", interactive=False, verbosity=0, reset_sequences=False)


@pytest.fixture(scope="module")
def fuzz_schema(target):
    return schemathesis.openapi.from_url(target.url + "/api/schema/?format=json")


def test_the_served_document_has_the_fuzzed_operations(fuzz_schema):
    served = {
        (op.ok().path, op.ok().method.upper())
        for op in fuzz_schema.get_all_operations()
    }
    assert served == set(OPERATIONS)
    assert sum(ingests(*op) for op in OPERATIONS) == 9


@pytest.mark.parametrize("path,method", OPERATIONS)
def test_fuzzed_requests_get_documented_answers_and_no_5xx(
    path, method, fuzz_schema, target
):
    operation = fuzz_schema[path][method]
    session = target.session()
    statuses: list[int] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
    )
    @given(case=cases(operation, target.spec, path, method))
    def run(case):
        response = case.call(base_url=target.url, session=session, timeout=30)
        statuses.append(response.status_code)
        case.validate_response(response, checks=CHECKS)

    try:
        run()
    finally:
        record_figures(
            "fuzz",
            endpoint=f"{method} {path}",
            requests=len(statuses),
            server_errors=sum(s >= 500 for s in statuses),
            statuses={str(s): statuses.count(s) for s in sorted(set(statuses))},
        )
    assert len(statuses) >= examples_possible(path, method)
    if ingests(path, method):
        # The steered bodies reach the mapping: some are stored, some refused by it.
        assert 200 in statuses and 400 in statuses, statuses


def _person(data: bytes) -> bytes:
    return b'{"type": "person", "groupKey": "main_group", "data": ' + data + b"}"


def _named(fields: bytes) -> bytes:
    """A person whose data is ``fields`` and a valid first and last name."""
    return _person(b"{" + fields + b', "first_name": "Ada", "last_name": "Byron"}')


# Sent as application/json: (what it is, the body, the answer's status).
HOSTILE_JSON = [
    ("truncated JSON", b'{"type": "person", "data": {', 400),
    ("not JSON at all", b"<xml>hello</xml>", 400),
    ("empty body", b"", 400),
    ("JSON null", b"null", 400),
    ("a JSON array", b"[]", 400),
    ("a JSON string", b'"person"', 400),
    ("NaN", _person(b'{"customer_id": NaN}'), 400),
    ("Infinity", _person(b'{"customer_id": -Infinity}'), 400),
    ("a byte-order mark", b"\xef\xbb\xbf{}", 400),
    ("not UTF-8", b'{"type": "\xff\xfe"}', 400),
    ("UTF-16", '{"type": "person"}'.encode("utf-16"), 400),
    ("duplicate keys", b'{"type": 1, "type": "person"}', 400),
    ("a 5,000-digit JSON integer", _named(b'"customer_id": 1' + b"0" * 5000), 400),
    ("an exponent of a billion", _named(b'"customer_id": 1, "age": 1e999999999'), 400),
    (
        "a tiny exponent in a list",
        _named(b'"customer_id": 1, "tags": [1e-999999999]'),
        200,
    ),
    (
        "a 5,000-digit integer string",
        _named(b'"customer_id": "' + b"1" * 5000 + b'"'),
        400,
    ),
    ("an integer past 64 bits", _named(b'"customer_id": 9223372036854775808'), 400),
    (
        "NUL in a value",
        _person(b'{"customer_id": 1, "first_name": "a\\u0000b", "last_name": "c"}'),
        400,
    ),
    (
        "a lone surrogate in a value",
        _person(b'{"customer_id": 1, "first_name": "\\udc00", "last_name": "c"}'),
        400,
    ),
    ("a lone surrogate in the type", b'{"type": "\\ud800"}', 400),
    ("NUL in a key", _person(b'{"x\\u0000": 1}'), 400),
    (
        "right-to-left and emoji",
        _person(
            '{"customer_id": 7, "first_name": "\u202e\U0001f600", "last_name": "\u05d0"'
            "}".encode()
        ),
        200,
    ),
]
HOSTILE = [(name, "application/json", body, s) for name, body, s in HOSTILE_JSON] + [
    ("text/plain", "text/plain", _person(b"{}"), 415),
    ("a form", "application/x-www-form-urlencoded", b"type=person", 415),
    ("multipart", "multipart/form-data; boundary=x", b"--x--", 415),
    ("no content type", "", _person(b"{}"), 415),
    ("JSON with a charset", "application/json; charset=latin-1", b"{}", 400),
]


@pytest.mark.parametrize(
    "name,content_type,body,expected", [pytest.param(*h, id=h[0]) for h in HOSTILE]
)
def test_hostile_bodies_get_the_documented_answer(
    name, content_type, body, expected, fuzz_schema, target
):
    session = target.session()
    headers = {"Content-Type": content_type} if content_type else {}
    response = session.post(
        target.url + "/v2/profiles", data=body, headers=headers, timeout=30
    )
    assert response.status_code == expected, response.text[:500]
    case = fuzz_schema["/v2/profiles"]["POST"].Case(body={}, headers=headers)
    case.validate_response(response, checks=CHECKS)
    assert response.json()["requestId"]


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "*/*", ""])
def test_any_accept_header_gets_a_documented_json_answer(accept, fuzz_schema, target):
    session = target.session()
    headers = {"Accept": accept} if accept else {}
    response = session.post(
        target.url + "/v3/profiles", json={"type": "person"}, headers=headers
    )
    case = fuzz_schema["/v3/profiles"]["POST"].Case(body={}, headers=headers)
    case.validate_response(response, checks=CHECKS)
    assert response.headers["Content-Type"] == "application/json"


class DatatalksIdMachine(RuleBasedStateMachine):
    """Stateful: profiles created, then sent again naming their Datatalks ID with the
    same, a free or a taken Hard-ID, checked against a model of who owns which Hard-ID.
    Every answer is also checked against the OpenAPI document."""

    target: Target
    schema = None
    runs = itertools.count()
    statuses: list[int] = []
    ids = Bundle("ids")

    def __init__(self):
        super().__init__()
        self.session = self.target.session()
        # Each run has Hard-IDs of its own: the database outlives the runs.
        self.base = 700_000_000 + next(self.runs) * 100
        self.hard_id_of: dict[str, int] = {}

    def post(self, body: dict, path: str = "/v3/profiles") -> dict:
        case = self.schema[path]["POST"].Case(body=body)
        response = case.call(base_url=self.target.url, session=self.session)
        self.statuses.append(response.status_code)
        case.validate_response(response, checks=CHECKS)
        return response.json() | {"status": response.status_code}

    def owner(self, n: int) -> str | None:
        return next((i for i, h in self.hard_id_of.items() if h == n), None)

    @rule(target=ids, n=st.integers(0, 9))
    def create(self, n):
        answer = self.post(person(self.base + n))
        assert answer["status"] == 200, answer
        known = self.owner(self.base + n)
        assert known in (None, answer["datatalksId"])  # the same Hard-ID, the same id
        self.hard_id_of[answer["datatalksId"]] = self.base + n
        return answer["datatalksId"]

    @rule(numbers=st.lists(st.integers(0, 9), min_size=1, max_size=6))
    def create_in_a_batch(self, numbers):
        items = [person(self.base + n) for n in numbers]
        answer = self.post({"items": items}, "/v3/profiles/batch")
        assert answer["status"] == 200 and answer["success"], answer
        for n, result in zip(numbers, answer["results"], strict=True):
            assert self.owner(self.base + n) in (None, result["datatalksId"])
            self.hard_id_of[result["datatalksId"]] = self.base + n

    @rule(dt_id=ids, n=st.integers(0, 9))
    def send_with_id(self, dt_id, n):
        answer = self.post(person(self.base + n, datatalksId=dt_id))
        owner = self.owner(self.base + n)
        if owner not in (None, dt_id):
            assert answer["status"] == 400
            assert f"already belongs to Datatalks ID {owner}" in answer["messages"][0]
            return
        assert answer["status"] == 200 and answer["datatalksId"] == dt_id, answer
        self.hard_id_of[dt_id] = self.base + n  # a Hard-ID change, or the same one

    @rule(dt_id=ids)
    def send_an_event_with_a_profile_id(self, dt_id):
        event = {"type": "purchase_ev", "datatalksId": dt_id, "data": {}}
        assert self.post(event, "/v3/events")["status"] == 400

    @rule(unknown=st.uuids())
    def send_an_unknown_id(self, unknown):
        answer = self.post(person(self.base, datatalksId=str(unknown)))
        assert answer["status"] == 400
        assert answer["messages"] == [
            f"datatalksId: {unknown} is not a person data point of yours"
        ]


def person(n: int, **extra) -> dict:
    data = {"customer_id": n, "first_name": "State", "last_name": "Machine"}
    return {"type": "person", "data": data, **extra}


def test_datatalks_ids_behave_as_the_model_says(fuzz_schema, target):
    DatatalksIdMachine.target = target
    DatatalksIdMachine.schema = fuzz_schema
    DatatalksIdMachine.statuses = statuses = []
    try:
        run_state_machine_as_test(
            DatatalksIdMachine,
            settings=settings(
                max_examples=max(10, EXAMPLES // 10),
                stateful_step_count=15,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            ),
        )
    finally:
        record_figures(
            "fuzz, stateful (Datatalks IDs)",
            requests=len(statuses),
            server_errors=sum(s >= 500 for s in statuses),
        )
