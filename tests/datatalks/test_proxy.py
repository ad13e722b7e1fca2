"""The production proxy (deploy/nginx.conf) in front of gunicorn: signed requests pass
unchanged, nginx's own refusals are in the API's envelope, no signature reaches its log.

The slow clients it exists for are in tests/soak/test_slow_clients.py (make soak).
"""

import json
import re

import pytest

from ingestion.credentials import credential_create
from mappings.demo import demo_load
from tests.harness.processes import wait_for
from tests.harness.proxy import gunicorn_behind_nginx, raw_exchange
from tests.harness.signing import signed_session

pytestmark = pytest.mark.django_db(transaction=True)

ENVELOPE_KEYS = {"success", "messages", "requestId", "datatalksId", "key"}


@pytest.fixture
def proxied(tmp_path):
    """gunicorn (2 sync workers) behind nginx, both the test's own, on loopback."""
    access_log = ("--access-logfile", str(tmp_path / "access.log"))
    with gunicorn_behind_nginx(tmp_path, *access_log) as servers:
        yield servers


def request_bytes(head: str, body: bytes = b"") -> bytes:
    return head.replace("\n", "\r\n").encode() + b"\r\n" + body


def assert_envelope(status: int, headers: dict, body: bytes, expected: int, words: str):
    assert status == expected, body[:300]
    assert headers["content-type"].startswith("application/json"), headers
    answer = json.loads(body)
    assert set(answer) == ENVELOPE_KEYS
    assert answer["success"] is False
    assert answer["datatalksId"] is None and answer["key"] is None
    assert re.fullmatch(r"[0-9a-f]{32}|[0-9a-f-]{36}", answer["requestId"])
    assert words in " ".join(answer["messages"]), answer


def test_a_signed_request_passes_the_proxy_with_its_host(proxied):
    _, proxy = proxied
    credential, secret = credential_create(customer=demo_load(), description="proxy")
    session = signed_session(credential.access_key_id, secret)
    body = {
        "type": "person",
        "data": {"customer_id": 7, "first_name": "P", "last_name": "Roxy"},
    }
    response = session.post(proxy.url + "/v3/profiles", json=body, timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["success"] is True
    assert response.headers["X-Request-Id"] == response.json()["requestId"]


def test_the_apps_own_errors_pass_unchanged(proxied):
    _, proxy = proxied
    status, headers, body = raw_exchange(
        proxy.port, request_bytes("GET /nowhere HTTP/1.1\nHost: x\nConnection: close\n")
    )
    assert_envelope(status, headers, body, 404, "No endpoint at GET /nowhere")
    # The app's requestId (a UUID) and header: gunicorn answered, not nginx.
    assert headers["x-request-id"] == json.loads(body)["requestId"]


def test_headers_too_large_are_431_in_the_envelope(proxied):
    _, proxy = proxied
    head = f"GET /v3/schema HTTP/1.1\nHost: x\nX-Big: {'a' * 9000}\n"
    assert_envelope(
        *raw_exchange(proxy.port, request_bytes(head)), 431, "headers are too large"
    )


def test_a_malformed_content_length_is_400_in_the_envelope(proxied):
    _, proxy = proxied
    head = "POST /v3/profiles HTTP/1.1\nHost: x\nContent-Length: 12abc\n"
    assert_envelope(*raw_exchange(proxy.port, request_bytes(head, b"{}")), 400, "Bad")


def test_a_body_over_the_limit_is_413_before_it_is_sent(proxied):
    api, proxy = proxied
    head = "POST /v3/profiles/batch HTTP/1.1\nHost: x\nContent-Length: 6000000\n"
    assert_envelope(
        *raw_exchange(proxy.port, request_bytes(head)), 413, "larger than the limit"
    )
    assert "/v3/profiles/batch" not in api.log_text()


def test_many_small_headers_reach_the_app_not_gunicorns_html(proxied):
    _, proxy = proxied
    fields = "".join(f"X-Field-{n}: {n}\n" for n in range(300))
    head = f"GET /nowhere HTTP/1.1\nHost: x\nConnection: close\n{fields}"
    assert_envelope(*raw_exchange(proxy.port, request_bytes(head)), 404, "No endpoint")


def test_gunicorn_down_is_502_in_the_envelope(proxied):
    api, proxy = proxied
    api.stop()
    head = "GET /v3/schema HTTP/1.1\nHost: x\nConnection: close\n"
    status, headers, body = raw_exchange(proxy.port, request_bytes(head))
    assert_envelope(status, headers, body, 502, "temporarily unavailable")
    assert headers["retry-after"] == "5"


def test_the_access_logs_keep_no_presigned_query_string(proxied, tmp_path):
    _, proxy = proxied
    secret_part = "X-Amz-Signature=5ec2e75160fa11c0d4b3"
    head = (
        f"GET /v3/schema?X-Amz-Credential=AKIDEXAMPLE%2F20260101&{secret_part} "
        "HTTP/1.1\nHost: x\nConnection: close\n"
    )
    status, _, _ = raw_exchange(proxy.port, request_bytes(head))
    assert status == 403
    logs = (proxy.access_log, (tmp_path / "access.log").read_text)
    for read in logs:  # each server writes its line once the answer is sent
        log = wait_for(
            lambda read=read: "/v3/schema" in read() and read(), 5, "the log line"
        )
        assert '"GET /v3/schema" 403' in log
        assert "5ec2e75160fa11c0d4b3" not in log and "AKIDEXAMPLE" not in log
