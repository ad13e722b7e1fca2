"""The ingestion endpoints: every mapping rule, answered in the response envelope."""

import copy
import json
import uuid

import pytest

from ingestion import examples
from ingestion.models import DataPoint, RequestLog

ENVELOPE_KEYS = {"success", "messages", "requestId", "datatalksId", "key"}


def post(api, path, body):
    return api.post(path, body, format="json")


def with_data(example, **changes):
    body = copy.deepcopy(example)
    for key, value in changes.items():
        if value is ...:
            body["data"].pop(key)
        else:
            body["data"][key] = value
    return body


def messages(response):
    assert response.status_code == 400, response.json()
    return response.json()["messages"]


@pytest.mark.parametrize(
    "path,example",
    [
        ("/v2/profiles", examples.PROFILE),
        ("/v2/events", examples.EVENT),
        ("/v2/inventory", examples.INVENTORY),
        ("/v3/profiles", examples.PROFILE),
    ],
)
def test_accepts_reference_examples(api, api_key, path, example):
    response = post(api, path, example)
    body = response.json()
    assert response.status_code == 200, body
    assert set(body) == ENVELOPE_KEYS
    assert body["success"] is True
    assert body["messages"] == []
    assert body["key"] == api_key[0]
    assert response["X-Request-Id"] == body["requestId"]
    stored = DataPoint.objects.get(pk=body["datatalksId"])
    assert stored.data_point_type.name == example["type"]


def test_stores_mapped_values_and_ignores_unmapped(api):
    body = with_data(examples.EVENT, unmapped_field="ignored")
    response = post(api, "/v2/events", body)
    stored = DataPoint.objects.get(pk=response.json()["datatalksId"]).data
    assert "unmapped_field" not in stored
    assert stored["total_purchase_amount"] == "123.75"
    assert stored["online_purchase"] is False
    assert stored["event_datetime"] == "2021-03-18T11:35:24"
    assert stored["member_points_before_purchase"] == 4561


def test_missing_optional_field_is_stored_as_null(api):
    response = post(api, "/v2/profiles", with_data(examples.PROFILE, email=...))
    stored = DataPoint.objects.get(pk=response.json()["datatalksId"]).data
    assert stored["email"] is None


def test_rejects_missing_required_field(api):
    assert messages(
        post(api, "/v2/profiles", with_data(examples.PROFILE, first_name=...))
    ) == ["data.first_name: is required"]


def test_accepts_null_for_required_non_hard_id_field(api):
    response = post(api, "/v2/profiles", with_data(examples.PROFILE, first_name=None))
    assert response.status_code == 200


@pytest.mark.parametrize(
    "value,problem",
    [
        (..., "is required (part of the Hard-ID)"),
        (None, "is part of the Hard-ID and cannot be null"),
        ("", "is part of the Hard-ID and cannot be empty"),
    ],
)
def test_rejects_missing_null_or_empty_hard_id(api, value, problem):
    body = with_data(examples.PROFILE, customer_id=value)
    assert messages(post(api, "/v2/profiles", body)) == [f"data.customer_id: {problem}"]


def test_accepts_empty_string_for_string_field(api):
    assert (
        post(api, "/v2/profiles", with_data(examples.PROFILE, city="")).status_code
        == 200
    )


@pytest.mark.parametrize("field", ["age", "birth_date", "is_member", "email"])
def test_rejects_empty_string_for_non_string_field(api, field):
    [message] = messages(
        post(api, "/v2/profiles", with_data(examples.PROFILE, **{field: ""}))
    )
    assert message.startswith(f"data.{field}: is an empty string")


def test_reports_every_problem_at_once(api):
    body = with_data(
        examples.PROFILE,
        email="mma a@gma.com",
        age="old",
        birth_date="2021-02-30",
        is_member="Maybe",
        first_name=...,
    )
    assert sorted(messages(post(api, "/v2/profiles", body))) == sorted(
        [
            "data.first_name: is required",
            'data.email: "mma a@gma.com" is not a valid email address',
            'data.age: "old" is not an integer',
            'data.birth_date: "2021-02-30" is not a real calendar date',
            'data.is_member: "Maybe" is not a boolean (expected yes/no or true/false)',
        ]
    )


def test_rejects_quoted_local_part_email(api):
    body = with_data(examples.PROFILE, email='"cogwheel the orange"@example.com')
    [message] = messages(post(api, "/v2/profiles", body))
    assert message.endswith("is not a valid email address")


def test_rejects_timezone_with_a_message_that_says_so(api):
    body = with_data(examples.EVENT, event_datetime="2021-03-18T11:35:24Z")
    assert messages(post(api, "/v2/events", body)) == [
        'data.event_datetime: "2021-03-18T11:35:24Z" has a time zone; '
        "time zones are not allowed"
    ]


def test_rejects_nested_object_in_data(api):
    body = with_data(examples.PROFILE, address={"street": "Kungsbroplan 3"})
    assert "data.address: nested objects are not supported" in messages(
        post(api, "/v2/profiles", body)
    )


def test_accepts_array_of_scalars(api):
    response = post(
        api, "/v2/profiles", with_data(examples.PROFILE, tags=["TAG1", "TAG2"])
    )
    stored = DataPoint.objects.get(pk=response.json()["datatalksId"]).data
    assert stored["tags"] == ["TAG1", "TAG2"]


def test_rejects_type_posted_to_the_wrong_category(api):
    assert messages(post(api, "/v2/events", examples.PROFILE)) == [
        'type: "person" is a profile type; send it to the profiles endpoint'
    ]


def test_rejects_unknown_type(api):
    body = dict(examples.PROFILE, type="employee")
    assert messages(post(api, "/v2/profiles", body)) == [
        'type: "employee" is not an active data point type of yours'
    ]


def test_rejects_inactive_type(api, demo):
    person = demo.data_point_types.get(name="person")
    person.active = False
    person.save()
    demo.refresh_from_db()  # the signed path reads the customer afresh on every request
    assert messages(post(api, "/v2/profiles", examples.PROFILE))[0].startswith("type:")


def test_v2_requires_group_key(api):
    body = {k: v for k, v in examples.PROFILE.items() if k != "groupKey"}
    assert messages(post(api, "/v2/profiles", body)) == ["groupKey: is required in v2"]


def test_v2_accepts_v1_group_key_spelling(api):
    body = {k: v for k, v in examples.PROFILE.items() if k != "groupKey"}
    body["group_key"] = "main_group"
    assert post(api, "/v2/profiles", body).status_code == 200


def test_v3_defaults_to_the_default_group_key(api):
    body = {k: v for k, v in examples.PROFILE.items() if k != "groupKey"}
    response = post(api, "/v3/profiles", body)
    assert response.status_code == 200
    stored = DataPoint.objects.get(pk=response.json()["datatalksId"])
    assert stored.group_key.key == "main_group"


def test_rejects_unknown_group_key(api):
    body = dict(examples.PROFILE, groupKey="other_brand")
    assert messages(post(api, "/v2/profiles", body)) == [
        'groupKey: "other_brand" is not one of your group keys'
    ]


def test_rejects_reference_placeholder_datatalks_id(api):
    body = dict(examples.PROFILE, datatalksId="xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx")
    [message] = messages(post(api, "/v2/profiles", body))
    assert message.startswith(
        'datatalksId: "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" is not a UUID'
    )


def test_rejects_invalid_json_saying_where(api):
    # The reference's profile example, with its trailing comma.
    text = json.dumps(examples.PROFILE, indent=1).replace(
        '"is_member": "Yes"', '"is_member": "Yes",'
    )
    response = api.post("/v2/profiles", text, content_type="application/json")
    assert response.status_code == 400
    [message] = response.json()["messages"]
    assert message.startswith("The body is not valid JSON: Expecting property name")
    assert "line 15" in message


def test_rejects_body_that_is_not_an_object(api):
    response = api.post("/v2/profiles", "[1, 2]", content_type="application/json")
    assert messages(response) == [
        "The body must be a JSON object with type, groupKey and data."
    ]


def test_rejects_empty_body(api):
    response = api.post("/v2/profiles", "", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["success"] is False


def test_rejects_non_json_media_type_with_415(api):
    response = api.post("/v2/profiles", "type=person", content_type="text/plain")
    assert response.status_code == 415
    assert set(response.json()) == ENVELOPE_KEYS


def test_answers_get_with_405_in_the_envelope(api):
    response = api.get("/v2/profiles")
    assert response.status_code == 405
    assert response.json()["success"] is False


def test_answers_unknown_path_with_404_in_the_envelope(api):
    response = api.post("/v2/contacts", examples.PROFILE, format="json")
    assert response.status_code == 404
    assert set(response.json()) == ENVELOPE_KEYS


def test_refuses_body_over_the_limit_with_413(api, settings):
    settings.DATATALKS_MAX_BODY_BYTES = 2048
    body = with_data(examples.PROFILE, city="x" * 4096)
    response = post(api, "/v2/profiles", body)
    assert response.status_code == 413
    assert "limit is 2048" in response.json()["messages"][0]


def test_records_every_request(api):
    ok = post(api, "/v2/profiles", examples.PROFILE).json()
    bad = post(api, "/v2/profiles", with_data(examples.PROFILE, age="old")).json()
    logged = {str(r.request_id): r for r in RequestLog.objects.all()}
    assert logged[ok["requestId"]].status_code == 200
    assert str(logged[ok["requestId"]].datatalks_id) == ok["datatalksId"]
    assert logged[ok["requestId"]].type_name == "person"
    assert logged[bad["requestId"]].status_code == 400
    assert logged[bad["requestId"]].messages == bad["messages"]
    assert logged[bad["requestId"]].customer.slug == "demo"


def test_every_response_has_a_fresh_request_id(api):
    ids = {
        post(api, "/v2/profiles", examples.PROFILE).json()["requestId"]
        for _ in range(3)
    }
    assert len(ids) == 3
    assert all(uuid.UUID(i) for i in ids)
