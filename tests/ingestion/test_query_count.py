"""The SQL an ingest request costs, pinned so a change to it is a decision.

Requests are signed as customers sign them, so authentication is counted. A process
keeps a key it has looked up (DATATALKS_CREDENTIAL_CACHE_SECONDS), so after a key's
first request authentication costs no query; the first costs the key's SELECT and the
once-a-minute last_used_at UPDATE.

A single ingest's statement is shared with the requests of the process's other threads
written with it (group commit): a group of them is one statement too, pinned below
in-process and over HTTP by tests/ingestion/test_group_commit.py.
"""

import copy
import time
import uuid

from django.db import connection
from django.test.utils import CaptureQueriesContext

from ingestion import examples
from ingestion.caller import ApiCaller
from ingestion.credentials import credential_cache_clear
from ingestion.request_log import LogEntry
from ingestion.validation import judgement_of, validate_body
from ingestion.writes import Single, singles_write
from mappings.spec import spec_for_customer


def changed(example: dict, **data) -> dict:
    body = copy.deepcopy(example)
    body["data"].update(data)
    return body


def statements(api, path: str, body: dict) -> list[str]:
    """The first word of each SQL statement the request ran (it must be answered)."""
    with CaptureQueriesContext(connection) as queries:
        response = api.post(path, body, format="json")
    assert response.status_code in (200, 400), response.json()
    return [q["sql"].split()[0] for q in queries.captured_queries]


def test_an_accepted_profile_is_one_statement(api):
    api.post("/v2/profiles", examples.PROFILE, format="json")  # the key, the spec
    # data point, secondary ids, outbox and request log: one WITH ... statement
    assert statements(api, "/v2/profiles", changed(examples.PROFILE, city="X")) == [
        "WITH"
    ]


def test_an_unchanged_profile_is_one_statement(api):
    api.post("/v2/profiles", examples.PROFILE, format="json")
    assert statements(api, "/v2/profiles", examples.PROFILE) == ["WITH"]


def test_an_accepted_event_is_one_statement(api):
    api.post("/v2/events", examples.EVENT, format="json")
    body = changed(examples.EVENT, total_purchase_amount="99.00")
    assert statements(api, "/v2/events", body) == ["WITH"]


def test_a_rejected_request_is_its_log_row(api):
    api.post("/v2/profiles", examples.PROFILE, format="json")
    body = {**examples.PROFILE, "data": {}}
    assert statements(api, "/v2/profiles", body) == ["INSERT"]


def test_a_keys_first_request_in_a_process_looks_the_key_up(api):
    api.post("/v2/profiles", examples.PROFILE, format="json")  # last_used_at written
    credential_cache_clear()
    body = changed(examples.PROFILE, city="Y")
    assert statements(api, "/v2/profiles", body) == ["SELECT", "WITH"]


def test_a_batch_is_a_fixed_number_of_statements(api):
    def batch(size: int, city: str) -> dict:
        return {
            "items": [
                changed(examples.PROFILE, customer_id=n, email=f"p{n}@x.com", city=city)
                for n in range(size)
            ]
        }

    api.post("/v3/profiles/batch", batch(1, "A"), format="json")
    # the transaction, the one write, the request log row
    expected = ["SAVEPOINT", "WITH", "RELEASE", "INSERT"]
    assert statements(api, "/v3/profiles/batch", batch(3, "B")) == expected
    assert statements(api, "/v3/profiles/batch", batch(300, "C")) == expected


def test_a_group_of_single_ingests_is_one_statement(demo):
    caller = ApiCaller(customer=demo, environment="production", access_key_id="K")
    spec = spec_for_customer(customer=demo)

    def single(n: int) -> Single:
        body = changed(examples.PROFILE, customer_id=n, email=f"g{n}@x.com")
        request, errors = validate_body(
            body, spec=spec, category="profile", version="v2"
        )
        assert not errors
        entry = LogEntry(uuid.uuid4(), "POST", "/v2/profiles", time.perf_counter())
        return Single(caller, request, entry, judgement_of(body, spec))

    singles_write(spec=spec, singles=[single(0)])  # the routes, compiled once
    with CaptureQueriesContext(connection) as queries:
        stored = singles_write(spec=spec, singles=[single(n) for n in range(1, 6)])
    assert [q["sql"].split()[0] for q in queries.captured_queries] == ["WITH"]
    assert len({s.datatalks_id for s in stored}) == 5


def test_the_write_is_prepared_once_per_connection_and_runs_its_generic_plan(api):
    """PostgreSQL parses and plans the ingest's statement once per connection: on
    every later run it executes the generic plan kept for it (datatalks/postgres)."""
    for city in ("A", "B", "C"):
        assert statements(api, "/v2/profiles", changed(examples.PROFILE, city=city))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE 'WITH item AS%%'"
        )
        plans = cursor.fetchall()
    assert plans == [(3, 0)]
    # The query log names the prepared statement's SQL (psycopg keeps no text of it).
    with CaptureQueriesContext(connection) as queries:
        api.post("/v2/profiles", changed(examples.PROFILE, city="D"), format="json")
    assert queries.captured_queries[-1]["sql"].startswith("WITH item AS")
