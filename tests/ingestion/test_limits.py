"""Request limits over real HTTP: each is a setting, each refusal names its limit, and
none costs a 500 or a stalled worker (docs/limits.md lists them)."""

import http.client
import json
import time
from urllib.parse import urlsplit

import pytest
from django.db import connection

from tests.harness.faults import Gunicorn, server_env
from tests.harness.signing import signed_session

pytestmark = pytest.mark.django_db(transaction=True)

MIB = 1024 * 1024
# Generous for a loaded 2-core machine; a parser that walked 100,000 levels recursively,
# or a worker stuck on a body, takes far longer (or never answers).
QUICK_SECONDS = 5.0


@pytest.fixture
def post(live_server, api_key):
    """POSTs to the live server, signed for the demo key; returns (response, seconds)."""
    session = signed_session(*api_key)

    def send(path: str, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        started = time.monotonic()
        response = session.post(
            live_server.url + path,
            data=data,
            headers={"Content-Type": content_type},
            timeout=60,
        )
        return response, time.monotonic() - started

    return send


def person(**data) -> dict:
    return {
        "type": "person",
        "data": {"customer_id": 1, "first_name": "Ada", "last_name": "Byron", **data},
    }


def messages(response) -> list[str]:
    body = response.json()
    assert body["success"] is False
    assert body["requestId"]
    return body["messages"]


def partial_request(url: str, path: str, length: int, sent: bytes) -> tuple:
    """Claims ``length`` bytes, sends only ``sent``, and waits for the answer."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    started = time.monotonic()
    conn.putrequest("POST", path)
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(length))
    conn.endheaders(sent)
    response = conn.getresponse()
    body = json.loads(response.read())
    conn.close()
    return response, body, time.monotonic() - started


@pytest.fixture
def gunicorn(tmp_path):
    """The production server on the test database (Django's test server drains every
    body before answering, so it cannot show what the application reads)."""
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    server = Gunicorn(server_env(url, ""), tmp_path / "gunicorn.log", workers=1)
    yield server.start()
    server.stop()


@pytest.mark.parametrize(
    "path,limit", [("/v3/profiles", MIB), ("/v3/profiles/batch", 5 * MIB)]
)
def test_oversized_body_gets_413_before_it_is_read(gunicorn, path, limit):
    # 2 MiB more than the limit is announced, and 11 bytes of not-JSON are sent: a
    # server that read (or parsed) the body would wait for the rest until timing out.
    response, body, seconds = partial_request(
        gunicorn.url, path, limit + 2 * MIB, b"not json {{"
    )
    assert response.status == 413
    assert seconds < QUICK_SECONDS
    assert body["success"] is False and body["requestId"]
    assert body["messages"] == [
        f"The request body is {limit + 2 * MIB} bytes; the limit is {limit}."
    ]


def test_a_chunked_body_without_length_is_never_read(gunicorn, sign_post):
    # Without Content-Length the application reads no body at all: the signature
    # (made for the 2 MiB this client means to send) cannot match, and the answer
    # comes after one chunk, before the rest is sent.
    body = b"x" * (2 * MIB)
    parts = urlsplit(gunicorn.url)
    headers = sign_post(
        gunicorn.url + "/v3/profiles", body, {"Content-Type": "application/json"}
    )
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    started = time.monotonic()
    conn.putrequest("POST", "/v3/profiles", skip_host=True)
    for name, value in {**headers, "Transfer-Encoding": "chunked"}.items():
        conn.putheader(name, value)
    conn.endheaders(b"10000\r\n" + body[:65536] + b"\r\n")
    response = conn.getresponse()
    answer = json.loads(response.read())
    conn.close()
    assert response.status == 403
    assert answer["messages"][0].startswith("The request signature we calculated")
    assert time.monotonic() - started < QUICK_SECONDS


def test_the_body_limit_is_inclusive(post):
    # Padding whitespace makes valid JSON of an exact size.
    body = json.dumps(person()).encode()
    exact = body + b" " * (MIB - len(body))
    response, _ = post("/v3/profiles", exact)
    assert response.status_code == 200, response.text
    response, _ = post("/v3/profiles", exact + b" ")
    assert response.status_code == 413
    assert messages(response) == [
        f"The request body is {MIB + 1} bytes; the limit is {MIB}."
    ]


def test_the_body_limit_is_a_setting(post, settings):
    settings.DATATALKS_MAX_BODY_BYTES = 2048
    response, _ = post("/v3/profiles", person(city="x" * 3000))
    assert response.status_code == 413
    assert "the limit is 2048" in messages(response)[0]


def test_more_than_1000_fields_get_400_naming_the_limit(post):
    extra = {f"field_{n}": n for n in range(1001 - 3)}
    response, _ = post("/v3/profiles", person(**extra))
    assert response.status_code == 400
    assert messages(response) == ["data: 1001 fields; the limit is 1000"]
    ok, _ = post("/v3/profiles", person(**{f"field_{n}": n for n in range(997)}))
    assert ok.status_code == 200, ok.text


def test_strings_over_64_kib_get_400_naming_the_limit(post):
    response, _ = post("/v3/profiles", person(city="é" * (64 * 1024 + 1)))
    assert response.status_code == 400
    assert messages(response) == [
        "data.city: a string of 65537 characters; the limit is 65536"
    ]
    ok, _ = post("/v3/profiles", person(city="é" * 64 * 1024))
    assert ok.status_code == 200, ok.text


def test_long_strings_in_unmapped_fields_and_arrays_are_refused_too(post):
    response, _ = post(
        "/v3/profiles", person(notes="x" * 70_000, tags=["ok", "y" * 70_000])
    )
    assert response.status_code == 400
    assert sorted(messages(response)) == [
        "data.notes: a string of 70000 characters; the limit is 65536",
        "data.tags: a string of 70000 characters; the limit is 65536",
    ]


def test_arrays_over_1000_items_get_400_naming_the_limit(post):
    response, _ = post("/v3/profiles", person(tags=["t"] * 1001))
    assert response.status_code == 400
    assert messages(response) == [
        "data.tags: an array of 1001 items; the limit is 1000"
    ]
    ok, _ = post("/v3/profiles", person(tags=["t"] * 1000))
    assert ok.status_code == 200, ok.text


@pytest.mark.parametrize(
    "name,body",
    [
        ("100,000 [", b"[" * 100_000),
        ("100,000 [ closed", b"[" * 100_000 + b"]" * 100_000),
        ("100,000 objects", b'{"a":' * 100_000 + b"1" + b"}" * 100_000),
        ("deep inside data", b'{"type":"person","data":{"x":' + b"[" * 50_000),
        ("17 levels", b'{"type":"person","data":{"x":' + b"[" * 15 + b"]" * 15 + b"}}"),
    ],
)
def test_deep_nesting_gets_400_naming_the_limit_quickly(post, name, body):
    response, seconds = post("/v3/profiles", body)
    assert response.status_code == 400, response.text[:300]
    assert messages(response) == [
        "The body is nested deeper than the limit of 16 levels."
    ]
    assert seconds < QUICK_SECONDS
    # The worker that parsed it is free: the next request is answered at once.
    ok, seconds = post("/v3/profiles", person())
    assert ok.status_code == 200 and seconds < QUICK_SECONDS


def test_nesting_within_the_limit_reaches_validation(post):
    body = b'{"type":"person","data":{"x":' + b"[" * 14 + b"]" * 14 + b"}}"
    response, _ = post("/v3/profiles", body)
    assert response.status_code == 400
    assert "data.x: arrays may hold only scalars" in messages(response)


def test_the_field_and_array_limits_are_settings(post, settings):
    settings.DATATALKS_MAX_FIELDS = 4
    settings.DATATALKS_MAX_ARRAY_ITEMS = 2
    settings.DATATALKS_MAX_STRING_CHARS = 10
    response, _ = post("/v3/profiles", person(city="Stockholm", age=3))
    assert messages(response) == ["data: 5 fields; the limit is 4"]
    response, _ = post("/v3/profiles", person(tags=[1, 2, 3]))
    assert messages(response) == ["data.tags: an array of 3 items; the limit is 2"]
    response, _ = post("/v3/profiles", person(city="Stockholm!!"))
    assert messages(response) == [
        "data.city: a string of 11 characters; the limit is 10"
    ]


def _items(count: int, **extra) -> dict:
    return {
        "items": [
            {
                "type": "person",
                "data": {
                    "customer_id": n,
                    "first_name": "A",
                    "last_name": "B",
                    **extra,
                },
            }
            for n in range(1, count + 1)
        ]
    }


def test_a_batch_of_1001_items_gets_400_naming_the_limit(post):
    response, _ = post("/v3/profiles/batch", _items(1001))
    assert response.status_code == 400
    assert messages(response) == ["items: 1001 items; a batch holds at most 1000"]


def test_a_full_batch_of_1000_items_is_stored_in_bounded_time(post):
    response, seconds = post("/v3/profiles/batch", _items(1000))
    assert response.status_code == 200, response.text[:300]
    body = response.json()
    assert body["success"] is True
    assert len({r["datatalksId"] for r in body["results"]}) == 1000
    assert seconds < 30


def test_a_batch_over_5_mib_gets_413_and_one_under_it_does_not(post):
    # 1,000 items of ~5.3 KB: over 5 MiB in all, though each item is small.
    response, _ = post("/v3/profiles/batch", _items(1000, city="x" * 5300))
    assert response.status_code == 413
    assert messages(response)[0].endswith(f"the limit is {5 * MIB}.")
    # Over the single-item limit but under the batch limit: accepted.
    response, _ = post("/v3/profiles/batch", _items(1000, city="x" * 1500))
    assert response.status_code == 200, response.text[:300]


def test_the_batch_limits_are_settings(post, settings):
    settings.DATATALKS_BATCH_MAX_ITEMS = 3
    response, _ = post("/v3/profiles/batch", _items(4))
    assert messages(response) == ["items: 4 items; a batch holds at most 3"]
    settings.DATATALKS_BATCH_MAX_BODY_BYTES = 4096
    response, _ = post("/v3/profiles/batch", _items(3, city="x" * 5000))
    assert response.status_code == 413
