"""Try a payload in the admin: the API's answer, what would be stored and sent, and
nothing left behind."""

import json

from django.urls import reverse

from ingestion import examples
from ingestion.credentials import credential_create
from ingestion.models import DataPoint, RequestLog
from integrations.demo import salesmanago_demo_load
from integrations.models import Delivery

URL = reverse("admin:mappings_customer_try")
# The reference's profile example as published: a trailing comma after "is_member".
BROKEN = json.dumps(examples.PROFILE).replace('"Yes"}', '"Yes",}')


def try_body(staff, customer, body, endpoint="v2/profiles", environment="production"):
    text = body if isinstance(body, str) else json.dumps(body)
    page = staff.post(
        URL,
        {
            "customer": customer.pk,
            "endpoint": endpoint,
            "environment": environment,
            "body": text,
        },
    )
    assert page.status_code == 200
    return page.context["outcome"], page.content.decode()


def test_a_good_body_shows_200_what_is_stored_and_sent_and_stores_nothing(staff, demo):
    salesmanago_demo_load(demo)
    credential, _ = credential_create(customer=demo)
    outcome, html = try_body(staff, demo, examples.PROFILE)
    assert outcome.status == 200
    assert outcome.envelope["success"] is True and outcome.envelope["datatalksId"]
    assert outcome.envelope["key"] == credential.access_key_id
    assert outcome.stored["email"] == "juliana.crane@fake.com"
    assert outcome.salesmanago[0]["item"]["contact"]["name"] == "Juliana Crane"
    assert "HTTP 200" in html and "a new data point would be created" in html
    assert "Juliana Crane" in html
    assert DataPoint.objects.count() == Delivery.objects.count() == 0
    assert RequestLog.objects.count() == 0


def test_a_bad_body_shows_the_apis_400_and_every_message(staff, demo):
    body = {**examples.PROFILE, "data": {**examples.PROFILE["data"], "age": "old"}}
    del body["data"]["first_name"]
    outcome, html = try_body(staff, demo, body)
    assert outcome.status == 400
    assert outcome.envelope["success"] is False
    assert outcome.envelope["messages"] == [
        "data.first_name: is required",
        'data.age: "old" is not an integer',
    ]
    assert "HTTP 400" in html and "data.age: &quot;old&quot; is not an integer" in html
    assert outcome.stored is None and DataPoint.objects.count() == 0


def test_broken_json_is_reported_as_the_api_reports_it(staff, demo, api):
    outcome, _ = try_body(staff, demo, BROKEN)
    answer = api.post("/v2/profiles", data=BROKEN, content_type="application/json")
    assert outcome.status == answer.status_code == 400
    assert outcome.envelope["messages"] == answer.json()["messages"]
    assert outcome.envelope["messages"][0].startswith(
        "The body is not valid JSON: Expecting property name enclosed in double quotes"
    )


def test_a_type_sent_to_the_wrong_endpoint_is_refused_as_by_the_api(staff, demo):
    outcome, _ = try_body(staff, demo, examples.EVENT, endpoint="v3/profiles")
    assert outcome.envelope["messages"] == [
        'type: "purchase_ev" is an event type; send it to the events endpoint'
    ]


def test_an_existing_data_point_would_be_updated(staff, demo, api):
    stored = api.post("/v2/profiles", examples.PROFILE, format="json").json()
    outcome, html = try_body(staff, demo, examples.PROFILE)
    assert outcome.envelope["datatalksId"] == stored["datatalksId"]
    assert "an existing data point would be updated" in html


def test_warns_when_the_customer_has_no_key_in_the_environment(staff, demo):
    outcome, html = try_body(staff, demo, examples.PROFILE, environment="staging")
    assert outcome.status == 200 and outcome.envelope["key"] is None
    assert "has no active staging key" in html


def test_the_type_page_opens_it_with_an_example_body_that_passes(staff, demo):
    person = demo.data_point_types.get(name="person")
    type_page = staff.get(
        reverse("admin:mappings_datapointtype_change", args=[person.pk])
    )
    assert f"{URL}?type={person.pk}" in type_page.content.decode()
    form = staff.get(URL, {"type": person.pk}).context["form"]
    assert form.initial["endpoint"] == "v2/profiles"
    body = json.loads(form.initial["body"])
    assert body["type"] == "person" and body["groupKey"] == "main_group"
    outcome, _ = try_body(staff, demo, form.initial["body"])
    assert outcome.status == 200, outcome.envelope


def test_needs_a_staff_login(client, demo):
    page = client.get(URL)
    assert page.status_code == 302 and "/admin/login/" in page["Location"]
