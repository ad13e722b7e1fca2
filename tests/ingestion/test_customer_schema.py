"""Per-customer API documents: generated from the mapping, valid, the caller's own, and
changed by a mapping change."""

import copy
import datetime as dt
import re

import pytest
import requests
import yaml
from django.core.management import call_command
from django.urls import reverse
from drf_spectacular.validation import validate_schema
from jsonschema import Draft202012Validator

from ingestion import examples
from ingestion.credentials import credential_create
from ingestion.customer_schema import (
    ENVELOPE,
    customer_json_schema,
    customer_openapi,
    datetime_regex,
)
from mappings.importing import DATETIME_PATTERNS
from mappings.models import FieldMapping
from mappings.onboarding_templates import template_apply
from mappings.types import Invalid, datetime_pattern, parse_datetime
from mappings.versions import mapping_version_create
from tests.harness.customers import make_customer
from tests.harness.signing import sign_with_botocore


def validator(customer) -> Draft202012Validator:
    schema = customer_json_schema(customer=customer)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(
        schema, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def test_the_json_schema_describes_each_type_from_its_mapping(demo):
    schema = customer_json_schema(customer=demo)
    assert set(schema["$defs"]) == {"person", "purchase_ev", "product_a"}
    person = schema["$defs"]["person"]["properties"]["data"]
    assert person["required"] == ["customer_id", "first_name", "last_name"]
    assert "Yes" in person["properties"]["is_member"]["anyOf"][1]["enum"]
    assert person["properties"]["email"]["type"] == ["string", "null"]
    assert person["properties"]["email"]["format"] == "email"
    assert person["properties"]["birth_date"]["format"] == "date"
    event = schema["$defs"]["purchase_ev"]["properties"]["data"]["properties"]
    assert event["event_datetime"]["pattern"] == (
        "^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}$"
    )
    assert "Refers to the Hard-ID of a person" in event["customer_id"]["description"]


@pytest.mark.parametrize("body", [examples.PROFILE, examples.EVENT, examples.INVENTORY])
def test_the_reference_examples_validate_against_the_json_schema(demo, body):
    assert list(validator(demo).iter_errors(body)) == []


@pytest.mark.parametrize(
    "field, value",
    [
        ("age", "old"),
        ("is_member", "Maybe"),
        ("birth_date", "18.03.1989"),
        ("customer_id", "12.5"),
    ],
)
def test_the_json_schema_refuses_what_the_api_refuses(demo, api, field, value):
    body = copy.deepcopy(examples.PROFILE)
    body["data"][field] = value
    assert list(validator(demo).iter_errors(body))
    assert api.post("/v2/profiles", body, format="json").status_code == 400


def test_the_openapi_document_validates_and_lists_the_customers_endpoints(demo):
    document = customer_openapi(customer=demo, server_url="https://api.example")
    validate_schema(document)
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": "https://api.example"}]
    assert (
        "/v2/profiles" in document["paths"] and "/v3/events/batch" in document["paths"]
    )
    post = document["paths"]["/v3/events"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {
        "oneOf": [{"$ref": "#/components/schemas/purchase_ev"}]
    }
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def test_inactive_types_are_left_out(demo):
    demo.data_point_types.filter(name="product_a").update(active=False)
    demo.refresh_from_db()
    document = customer_openapi(customer=demo)
    assert "product_a" not in document["components"]["schemas"]
    assert "/v2/inventory" not in document["paths"]


def test_the_template_types_are_documented_with_examples_that_validate(db):
    club = make_customer("club")
    template_apply(customer=club, key="sports", user=None)
    club.refresh_from_db()
    schema = customer_json_schema(customer=club)
    check = validator(club)
    for name in ("supporter", "ticket_purchase", "match_ticket"):
        [example] = schema["$defs"][name]["examples"]
        assert list(check.iter_errors(example)) == []


# GET /v3/schema, signed ----------------------------------------------------------------


def signed_get(live_server, path, key, secret):
    url = live_server.url + path
    headers = sign_with_botocore("GET", url, key=key, secret=secret)
    return requests.get(url, headers=headers, timeout=30)


def test_the_signed_caller_gets_only_its_own_types(live_server, demo, api_key):
    other = make_customer("other")
    other_key, other_secret = credential_create(customer=other)
    other_key = other_key.access_key_id
    mine = signed_get(live_server, "/v3/schema", *api_key)
    theirs = signed_get(live_server, "/v3/schema", other_key, other_secret)
    assert mine.status_code == theirs.status_code == 200
    assert set(mine.json()["components"]["schemas"]) == {
        "person",
        "purchase_ev",
        "product_a",
        "datatalks.Envelope",
    }
    assert set(theirs.json()["components"]["schemas"]) == {
        "person",
        "datatalks.Envelope",
    }
    assert theirs.json()["info"]["title"] == "Data Talks API for Other"
    assert mine.json()["servers"] == [{"url": live_server.url}]


def test_the_document_changes_when_the_mapping_changes(live_server, demo, api_key):
    before = signed_get(live_server, "/v3/schema?document=json-schema", *api_key).json()
    person = demo.data_point_types.get(name="person")
    FieldMapping.objects.create(
        data_point_type=person,
        source_field="shoe_size",
        cdp_field="shoe_size",
        data_type="integer",
        position=99,
    )
    mapping_version_create(data_point_type=person, user=None)  # as the admin's save
    after = signed_get(live_server, "/v3/schema?document=json-schema", *api_key).json()
    data_before = before["$defs"]["person"]["properties"]["data"]
    data_after = after["$defs"]["person"]["properties"]["data"]
    assert "shoe_size" not in data_before["properties"]
    assert data_after["required"][-1] == "shoe_size"
    # One meaning of "mapping version": the type's, as the request log cites it.
    versions = (
        before["x-datatalks-mapping-versions"],
        after["x-datatalks-mapping-versions"],
    )
    assert versions[1]["person"] == versions[0]["person"] + 1 == person.version
    assert after["$defs"]["person"]["x-datatalks-mapping-version"] == person.version
    assert versions[1]["purchase_ev"] == versions[0]["purchase_ev"]
    assert f"person v{person.version}" in after["description"]


def test_an_unknown_document_is_a_400_in_the_envelope(live_server, demo, api_key):
    answer = signed_get(live_server, "/v3/schema?document=yaml", *api_key)
    assert answer.status_code == 400
    assert answer.json()["messages"] == [
        "document: 'yaml' is not one of openapi, json-schema"
    ]


def test_an_unsigned_request_is_refused(live_server, demo):
    answer = requests.get(live_server.url + "/v3/schema", timeout=30)
    assert answer.status_code == 403
    assert answer.json()["messages"] == ["Missing Authentication Token"]


# The admin's downloads -----------------------------------------------------------------


@pytest.mark.parametrize("document", ["openapi", "json-schema"])
def test_the_customer_page_offers_both_documents(staff, demo, document):
    url = reverse("admin:mappings_customer_schema", args=[demo.pk, document])
    page = staff.get(reverse("admin:mappings_customer_change", args=[demo.pk]))
    assert url in page.content.decode()
    download = staff.get(url)
    assert download["Content-Disposition"] == (
        f'attachment; filename="demo-{document}.json"'
    )
    content = download.json()
    types = (
        content["$defs"]
        if document == "json-schema"
        else content["components"]["schemas"]
    )
    assert "person" in types


def test_both_documents_answer_every_endpoint_with_the_same_codes_and_envelope(
    demo, capsys
):
    call_command("spectacular")
    overall = yaml.safe_load(capsys.readouterr().out)
    own = customer_openapi(customer=demo)
    profile = "/v3/profiles/{datatalksId}"  # export and erase (docs/privacy.md)
    ingest_paths = [p for p in own["paths"] if p not in ("/v3/schema", profile)]
    assert len(ingest_paths) == 9
    for method in ("get", "delete"):
        codes = set(own["paths"][profile][method]["responses"])
        assert codes == set(overall["paths"][profile][method]["responses"]), method
        assert {"200", "400", "403", "404"} <= codes
    for path in ingest_paths:
        codes = set(own["paths"][path]["post"]["responses"])
        assert codes == set(overall["paths"][path]["post"]["responses"]), path
        assert {"406", "415", "503"} <= codes, path
    mine = own["components"]["schemas"][ENVELOPE]["properties"]
    theirs = overall["components"]["schemas"]["Envelope"]["properties"]
    assert list(mine) == list(theirs)
    for name, schema in mine.items():
        assert schema.get("description") == theirs[name].get("description"), name


@pytest.mark.parametrize(
    "fmt",
    [
        *DATETIME_PATTERNS,
        "YYYY-MM-DDTHH:MM:SS",
        "%d.%m.%Y %H:%M",
        "hh:mm DD.MM.YYYY",
        "DD.MM.YYYY hh",  # "hh" alone is no token: the API reads the letters
    ],
)
def test_a_datetime_formats_pattern_matches_exactly_what_the_api_reads(fmt):
    pattern = re.compile(datetime_regex(fmt))
    written = dt.datetime(2021, 3, 18, 11, 35, 24).strftime(datetime_pattern(fmt))
    assert pattern.match(written)
    assert parse_datetime(written, fmt)
    wrong = written.replace("18", "1x", 1)
    assert not pattern.match(wrong)
    with pytest.raises(Invalid):
        parse_datetime(wrong, fmt)
