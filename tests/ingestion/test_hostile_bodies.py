"""Hostile request bodies that once passed or echoed too much: digits of other scripts,
duplicate JSON keys, huge keys in messages."""

import json

import pytest

from ingestion import examples
from ingestion.models import DataPoint, RequestLog


def post_raw(api, path: str, raw: str):
    return api.post(path, raw, content_type="application/json")


def body_with(example: dict, **data) -> dict:
    return {**example, "data": {**example["data"], **data}}


# Arabic-Indic and Devanagari digits: int(), Decimal() and \\d read them as 0-9.
ARABIC = str.maketrans("0123456789", "".join(chr(0x660 + n) for n in range(10)))
DEVANAGARI = str.maketrans("0123456789", "".join(chr(0x966 + n) for n in range(10)))


@pytest.mark.parametrize(
    "path, example, field, value",
    [
        ("/v3/profiles", examples.PROFILE, "customer_id", "123".translate(ARABIC)),
        ("/v3/profiles", examples.PROFILE, "age", "42".translate(DEVANAGARI)),
        (
            "/v3/profiles",
            examples.PROFILE,
            "birth_date",
            "1990-01-02".translate(ARABIC),
        ),
        (
            "/v3/events",
            examples.EVENT,
            "total_purchase_amount",
            "12.5".translate(ARABIC),
        ),
        (
            "/v3/events",
            examples.EVENT,
            "event_datetime",
            "2021-03-18 11:35:24".translate(ARABIC),
        ),
    ],
)
def test_numbers_and_dates_take_ascii_digits_only(api, path, example, field, value):
    response = api.post(path, body_with(example, **{field: value}), format="json")
    assert response.status_code == 400, response.json()
    assert any(m.startswith(f"data.{field}: ") for m in response.json()["messages"])
    assert not DataPoint.objects.exists()


def test_a_duplicate_key_in_the_body_is_refused_and_named(api):
    raw = json.dumps(examples.PROFILE)[:-1] + ', "type": "person"}'
    response = post_raw(api, "/v3/profiles", raw)
    assert response.status_code == 400, response.json()
    assert response.json()["messages"] == [
        'The body is not valid JSON: the key "type" appears twice in one object.'
    ]


def test_a_duplicate_hard_id_inside_data_is_refused(api):
    data = json.dumps(examples.PROFILE["data"])
    raw = json.dumps({**examples.PROFILE, "data": None}).replace(
        '"data": null', '"data": ' + data[:-1] + ', "customer_id": 999}'
    )
    response = post_raw(api, "/v3/profiles", raw)
    assert response.status_code == 400, response.json()
    assert "customer_id" in response.json()["messages"][0]
    assert not DataPoint.objects.exists()


def test_a_huge_key_is_not_echoed_in_full(api):
    key = "k" * 900_000
    body = body_with(examples.PROFILE, **{key: {"nested": 1}})
    response = api.post("/v3/profiles", body, format="json")
    assert response.status_code == 400
    assert len(response.content) < 5_000, len(response.content)
    logged = RequestLog.objects.get(request_id=response.json()["requestId"])
    assert len(json.dumps(logged.messages)) < 5_000
