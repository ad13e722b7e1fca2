"""The SQL an ingest request costs, pinned so a change to it is a decision."""

import copy

from django.db import connection
from django.test.utils import CaptureQueriesContext

from ingestion import examples

# Under test the service's transaction is a savepoint inside the test's transaction:
# SAVEPOINT and RELEASE are counted too (in production they are BEGIN and COMMIT).
SAVEPOINT = 2
# Requests are signed as customers sign them, so authentication is counted: one SELECT
# finds the key and its customer (last_used_at is written at most once a minute, by
# the warm-up request here).
AUTH = 1


def changed(example: dict, **data) -> dict:
    body = copy.deepcopy(example)
    body["data"].update(data)
    return body


def test_profile_ingest_query_count(api, django_assert_num_queries):
    api.post("/v2/profiles", examples.PROFILE, format="json")  # warms the spec cache
    body = changed(examples.PROFILE, city="Lund")
    # upsert; secondary ids let go; secondary ids claimed (owners returned); request log
    with django_assert_num_queries(AUTH + 3 + 1 + SAVEPOINT):
        response = api.post("/v2/profiles", body, format="json")
    assert response.status_code == 200


def test_unchanged_profile_query_count(api, django_assert_num_queries):
    api.post("/v2/profiles", examples.PROFILE, format="json")
    # upsert (changes nothing); its id read back; secondary ids claimed; request log
    with django_assert_num_queries(AUTH + 3 + 1 + SAVEPOINT):
        response = api.post("/v2/profiles", examples.PROFILE, format="json")
    assert response.status_code == 200


def test_event_ingest_query_count(api, django_assert_num_queries):
    api.post("/v2/events", examples.EVENT, format="json")
    body = changed(examples.EVENT, total_purchase_amount="99.00")
    # upsert (with the profile link in the same statement); request log
    with django_assert_num_queries(AUTH + 1 + 1 + SAVEPOINT):
        response = api.post("/v2/events", body, format="json")
    assert response.status_code == 200


def test_rejected_request_costs_only_its_key_and_its_log_row(api):
    api.post("/v2/profiles", examples.PROFILE, format="json")
    with CaptureQueriesContext(connection) as queries:
        api.post("/v2/profiles", {**examples.PROFILE, "data": {}}, format="json")
    assert [q["sql"].split()[0] for q in queries.captured_queries] == [
        "SELECT",  # the key that signed it
        "INSERT",  # the request log row
    ]
