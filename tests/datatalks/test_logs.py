"""Logs under gunicorn with DEBUG off: one JSON object per line, and every line of a
request, Django's own django.request lines included, names its request id, customer
and key."""

import pytest
from django.db import connection

from ingestion import examples
from ingestion.credentials import credential_create
from mappings.demo import demo_load
from tests.harness.delivery import PrivateRedis
from tests.harness.faults import Gunicorn, json_log_lines, send, server_env
from tests.harness.signing import signed_session

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def api(tmp_path):
    redis = PrivateRedis().start()
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env = server_env(url, redis.url, DJANGO_DEBUG="false")
    env.pop("DATATALKS_LOG_FORMAT", None)  # production's default
    server = Gunicorn(env, tmp_path / "gunicorn.log").start()
    yield server
    server.stop()
    redis.stop()


def test_every_line_of_a_request_carries_its_id_customer_and_key(api):
    customer = demo_load()
    credential, secret = credential_create(customer=customer, description="logs")
    session = signed_session(credential.access_key_id, secret)
    bad_body = {**examples.PROFILE, "data": {"customer_id": "not a number"}}
    rejected = send(session, api.url + "/v3/profiles", bad_body)
    unsigned = send(
        signed_session("DTNOSUCHKEY000000000", "x"), api.url + "/v3/profiles", {}
    )
    assert (rejected.status, unsigned.status) == (400, 403)

    lines = json_log_lines(api.log_text())
    assert lines, api.log_text()[-2000:]
    by_request = {line["request_id"]: line for line in lines}
    line = by_request[rejected.body["requestId"]]
    assert line["logger"] == "django.request"
    assert line["message"] == "Bad Request: /v3/profiles"
    assert line["status_code"] == 400
    assert (line["customer"], line["key"]) == ("demo", credential.access_key_id)
    line = by_request[unsigned.body["requestId"]]
    assert (line["message"], line["customer"], line["key"]) == (
        "Forbidden: /v3/profiles",
        "-",
        "-",
    )
    assert all(
        line["request_id"] != "-"
        for line in lines
        if line["logger"] == "django.request"
    )
    assert secret not in api.log_text()
