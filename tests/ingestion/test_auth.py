"""SigV4 authentication end to end: real signers against the running server.

Every request here is signed by a library customers use (botocore, requests-aws4auth,
curl) and sent over real HTTP to pytest-django's live server; only the signer's clock
is ever mocked.
"""

import copy
import hashlib
import json
import re
import shutil
import subprocess
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
import requests
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from django.db import connection
from django.test.utils import CaptureQueriesContext
from requests_aws4auth import AWS4Auth

from ingestion import examples, sigv4
from ingestion.credentials import credential_create, credential_deactivate
from ingestion.models import ApiCredential, DataPoint, RequestLog
from tests.harness.customers import make_customer

REGION, SERVICE = "eu-north-1", "execute-api"
JSON = {"Content-Type": "application/json"}
PROFILE = json.dumps(examples.PROFILE).encode()
UNICODE_PROFILE = copy.deepcopy(examples.PROFILE)
UNICODE_PROFILE["data"].update(
    first_name="Åsa",
    last_name="Öberg-Żółć 日本",
    city="Malmö",
    address="Ünterstraße 5 ✓",
)


def refusal(response) -> str:
    """The one message of a 403 in the envelope."""
    body = response.json()
    assert response.status_code == 403, body
    assert body["success"] is False and body["key"] is None and body["requestId"]
    assert len(body["messages"]) == 1
    return body["messages"][0]


def accepted(response) -> dict:
    body = response.json()
    assert response.status_code == 200, body
    assert body["success"] is True
    return body


def http_post(url, **options):
    return requests.post(url, timeout=30, **options)


def post_aws4auth(url, body: bytes, key, secret, *, headers=None, **options):
    auth = AWS4Auth(key, secret, REGION, SERVICE, **options)
    return http_post(url, data=body, headers={**JSON, **(headers or {})}, auth=auth)


def post_curl(url, body: bytes, key, secret, *, region=REGION) -> requests.Response:
    """curl --aws-sigv4, answered as a requests.Response for the same assertions."""
    result = subprocess.run(
        [
            "curl",
            "-sS",
            "--aws-sigv4",
            f"aws:amz:{region}:{SERVICE}",
            "--user",
            f"{key}:{secret}",
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            "@-",
            "-w",
            "\n%{http_code}",
            url,
        ],
        input=body,
        capture_output=True,
        timeout=30,
        check=True,
    )
    content, _, status = result.stdout.rpartition(b"\n")
    response = requests.Response()
    response.status_code, response._content = int(status), content
    return response


needs_curl = pytest.mark.skipif(
    shutil.which("curl") is None, reason="curl not installed"
)


@contextmanager
def botocore_clock(offset: timedelta):
    """botocore signs as if its clock were ``offset`` away from now."""
    moment = datetime.now(UTC).replace(tzinfo=None, microsecond=0) + offset
    with mock.patch("botocore.auth.get_current_datetime", return_value=moment):
        yield moment.replace(tzinfo=UTC)


def stamp(moment: datetime) -> str:
    return moment.strftime(sigv4.AMZ_DATE_FORMAT)


@pytest.fixture
def url(live_server):
    return lambda path="/v2/profiles": live_server.url + path


# Accepted.


@pytest.mark.parametrize(
    "path,example",
    [
        ("/v2/profiles", examples.PROFILE),
        ("/v2/events", examples.EVENT),
        ("/v2/inventory", examples.INVENTORY),
    ],
)
def test_accepts_each_endpoint_signed_with_botocore(
    url, api_key, signed_post, path, example
):
    body = accepted(signed_post(url(path), example, *api_key))
    assert body["key"] == api_key[0]
    stored = DataPoint.objects.get(pk=body["datatalksId"])
    assert (stored.customer.slug, stored.environment) == ("demo", "production")
    assert stored.data_point_type.name == example["type"]


def test_accepts_a_request_signed_with_requests_aws4auth(url, api_key):
    assert accepted(post_aws4auth(url(), PROFILE, *api_key))["key"] == api_key[0]


@needs_curl
def test_accepts_a_request_signed_with_curl(url, api_key):
    assert accepted(post_curl(url(), PROFILE, *api_key))["key"] == api_key[0]


QUERY = "?source=crm&batch=2&note=a+b%20c&emoji=%F0%9F%98%80&flag"


def test_accepts_a_query_string_signed_with_botocore(url, api_key, signed_post):
    accepted(signed_post(url("/v2/profiles" + QUERY), examples.PROFILE, *api_key))


def test_accepts_a_query_string_signed_with_requests_aws4auth(url, api_key):
    accepted(post_aws4auth(url("/v2/profiles" + QUERY), PROFILE, *api_key))


@needs_curl
def test_accepts_a_query_string_signed_with_curl(url, api_key):
    accepted(post_curl(url("/v2/profiles" + QUERY), PROFILE, *api_key))


def test_accepts_a_unicode_body_signed_with_botocore(url, api_key, signed_post):
    body = json.dumps(UNICODE_PROFILE, ensure_ascii=False).encode()
    stored = DataPoint.objects.get(
        pk=accepted(signed_post(url(), body, *api_key))["datatalksId"]
    )
    assert stored.data["first_name"] == "Åsa"
    assert stored.data["last_name"] == "Öberg-Żółć 日本"


def test_accepts_a_unicode_body_signed_with_requests_aws4auth(url, api_key):
    body = json.dumps(UNICODE_PROFILE, ensure_ascii=False).encode()
    accepted(post_aws4auth(url(), body, *api_key))


def test_an_empty_body_is_authenticated_then_refused_by_the_view(
    url, api_key, signed_post
):
    response = signed_post(url(), b"", *api_key)
    body = response.json()
    assert response.status_code == 400, body
    assert body["key"] == api_key[0]  # authenticated: the envelope names the key
    assert not any("signature" in message.lower() for message in body["messages"])


def test_records_the_key_in_the_request_log_and_when_it_was_used(
    url, api_key, signed_post
):
    request_id = accepted(signed_post(url(), examples.PROFILE, *api_key))["requestId"]
    log = RequestLog.objects.get(request_id=request_id)
    assert (log.access_key_id, log.customer.slug, log.environment) == (
        api_key[0],
        "demo",
        "production",
    )
    used = ApiCredential.objects.get(access_key_id=api_key[0]).last_used_at
    assert used is not None and datetime.now(UTC) - used < timedelta(minutes=1)


# Refused: each with API Gateway's message, in the envelope.


def test_refuses_a_request_without_authentication(url, demo):
    response = http_post(url(), data=PROFILE, headers=JSON)
    assert refusal(response) == "Missing Authentication Token"
    log = RequestLog.objects.get(request_id=response.json()["requestId"])
    assert (log.status_code, log.messages, log.access_key_id) == (
        403,
        ["Missing Authentication Token"],
        "",
    )


@pytest.mark.parametrize(
    "key", ["DT" + "0" * 18, "AKIAIOSFODNN7EXAMPLE", "AKIDEXAMPLE"]
)
def test_refuses_an_unknown_key(url, demo, signed_post, key):
    response = signed_post(url(), examples.PROFILE, key, "x" * 40)
    assert refusal(response) == sigv4.INVALID_TOKEN


def test_refuses_a_key_from_the_request_after_it_is_deactivated(
    url, api_key, signed_post
):
    accepted(signed_post(url(), examples.PROFILE, *api_key))
    credential_deactivate(
        credential=ApiCredential.objects.get(access_key_id=api_key[0])
    )
    assert (
        refusal(signed_post(url(), examples.PROFILE, *api_key)) == sigv4.INVALID_TOKEN
    )


def test_refuses_the_key_of_an_inactive_customer(url, demo, api_key, signed_post):
    demo.active = False
    demo.save()
    assert (
        refusal(signed_post(url(), examples.PROFILE, *api_key)) == sigv4.INVALID_TOKEN
    )


def test_refuses_a_secret_off_by_one_character(url, api_key, signed_post):
    key, secret = api_key
    wrong = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    assert (
        refusal(signed_post(url(), examples.PROFILE, key, wrong))
        == sigv4.SIGNATURE_MISMATCH
    )


def test_refuses_a_body_changed_after_signing(url, sign_post):
    headers = sign_post(url(), PROFILE, JSON)
    changed = PROFILE.replace(b"12345", b"12346")
    response = http_post(url(), data=changed, headers=headers)
    assert refusal(response) == sigv4.SIGNATURE_MISMATCH
    assert not DataPoint.objects.exists()


def test_refuses_a_body_that_does_not_match_its_signed_hash(url, api_key):
    # requests-aws4auth signs x-amz-content-sha256, which is checked against the body.
    def change_body(request):
        request.body = request.body.replace(b"12345", b"12346")
        request.headers["Content-Length"] = str(len(request.body))

    auth = AWS4Auth(*api_key, REGION, SERVICE)
    prepared = requests.Request("POST", url(), data=PROFILE, headers=JSON).prepare()
    change_body(auth(prepared))
    response = requests.Session().send(prepared, timeout=30)
    assert refusal(response) == (
        "The provided 'x-amz-content-sha256' header does not match what was computed."
    )


@pytest.mark.parametrize(
    "signed, sent",
    [("/v2/profiles", "/v2/events"), ("/v2/profiles?a=1", "/v2/profiles?a=2")],
    ids=["path", "query string"],
)
def test_refuses_a_path_or_query_string_changed_after_signing(
    url, sign_post, signed, sent
):
    headers = sign_post(url(signed), PROFILE, JSON)
    response = http_post(url(sent), data=PROFILE, headers=headers)
    assert refusal(response) == sigv4.SIGNATURE_MISMATCH


TIMES = r"(\d{8}T\d{6}Z)"


def server_times(message: str, pattern: str) -> list[datetime]:
    match = re.fullmatch(pattern.format(t=TIMES), message)
    assert match, message
    return [
        datetime.strptime(t, sigv4.AMZ_DATE_FORMAT).replace(tzinfo=UTC)
        for t in match.groups()
    ]


def test_refuses_a_request_signed_six_minutes_ago(url, api_key, signed_post):
    with botocore_clock(-timedelta(minutes=6)) as signed_at:
        response = signed_post(url(), examples.PROFILE, *api_key)
    sent, limit, now = server_times(
        refusal(response),
        r"Signature expired: {t} is now earlier than {t} \({t} - 5 min\.\)",
    )
    assert sent == signed_at
    assert now - limit == timedelta(minutes=5)
    assert abs(now - datetime.now(UTC)) < timedelta(seconds=30)


def test_refuses_a_request_signed_six_minutes_ahead(url, api_key):
    # requests-aws4auth signs with the x-amz-date it is given.
    signed_at = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=6)
    response = post_aws4auth(
        url(), PROFILE, *api_key, headers={"x-amz-date": stamp(signed_at)}
    )
    sent, limit, now = server_times(
        refusal(response),
        r"Signature not yet current: {t} is still later than {t} \({t} \+ 5 min\.\)",
    )
    assert sent == signed_at
    assert limit - now == timedelta(minutes=5)


def test_accepts_a_clock_four_minutes_off(url, api_key, signed_post):
    with botocore_clock(-timedelta(minutes=4)):
        accepted(signed_post(url(), examples.PROFILE, *api_key))


def test_refuses_the_wrong_region(url, api_key, signed_post):
    response = signed_post(url(), examples.PROFILE, *api_key, region="us-east-1")
    assert refusal(response) == (
        "Credential should be scoped to a valid region, not 'us-east-1'. "
        "The valid region is 'eu-north-1'."
    )


@needs_curl
def test_refuses_the_wrong_region_from_curl(url, api_key):
    response = post_curl(url(), PROFILE, *api_key, region="eu-west-1")
    assert "not 'eu-west-1'. The valid region is 'eu-north-1'." in refusal(response)


def test_refuses_the_wrong_service(url, api_key, signed_post):
    response = signed_post(url(), examples.PROFILE, *api_key, service="lambda")
    assert (
        refusal(response)
        == "Credential should be scoped to correct service: 'execute-api'."
    )


def test_refuses_a_request_whose_host_is_not_signed(url, api_key):
    response = post_aws4auth(
        url(), PROFILE, *api_key, include_hdrs=["content-type", "x-amz-date"]
    )
    assert (
        refusal(response) == "'Host' must be a 'SignedHeader' in the AWS Authorization."
    )


def test_refuses_a_request_whose_date_is_not_signed(url, api_key):
    response = post_aws4auth(
        url(), PROFILE, *api_key, include_hdrs=["host", "content-type"]
    )
    assert refusal(response) == (
        "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization."
    )


def test_refuses_temporary_credentials(url, api_key, signed_post):
    response = signed_post(url(), examples.PROFILE, *api_key, token="FwoGZXIvYXdzE")
    assert refusal(response) == sigv4.INVALID_TOKEN


def test_refuses_another_authorization_scheme(url, demo):
    response = http_post(
        url(), data=PROFILE, headers={**JSON, "Authorization": "Bearer x"}
    )
    assert refusal(response).startswith("Unsupported Authorization algorithm 'Bearer'")


@needs_curl
def test_refuses_a_wrong_secret_from_curl(url, api_key):
    response = post_curl(url(), PROFILE, api_key[0], api_key[1][::-1])
    assert refusal(response) == sigv4.SIGNATURE_MISMATCH


# Query-string (presigned) authentication, as botocore's SigV4QueryAuth signs it.


def presign(url, key, secret, body: bytes | None, *, expires=60):
    """A presigned POST; botocore signs the body through x-amz-content-sha256."""
    headers = dict(JSON)
    if body is not None:
        headers["X-Amz-Content-SHA256"] = hashlib.sha256(body).hexdigest()
    request = AWSRequest(method="POST", url=url, headers=headers)
    SigV4QueryAuth(Credentials(key, secret), SERVICE, REGION, expires=expires).add_auth(
        request
    )
    return request.url, dict(request.headers.items())


def test_accepts_a_presigned_url(url, api_key):
    signed_url, headers = presign(url("/v2/profiles?source=crm"), *api_key, PROFILE)
    assert "X-Amz-Signature=" in signed_url and "Authorization" not in headers
    assert (
        accepted(http_post(signed_url, data=PROFILE, headers=headers))["key"]
        == (api_key[0])
    )


def test_a_presigned_url_signs_its_body(url, api_key):
    signed_url, headers = presign(url(), *api_key, None)  # signed for an empty body
    response = http_post(signed_url, data=PROFILE, headers=headers)
    assert refusal(response) == sigv4.SIGNATURE_MISMATCH


def test_refuses_an_expired_presigned_url(url, api_key):
    with botocore_clock(-timedelta(minutes=2)) as signed_at:
        signed_url, headers = presign(url(), *api_key, PROFILE, expires=60)
    sent, limit, now = server_times(
        refusal(http_post(signed_url, data=PROFILE, headers=headers)),
        r"Signature expired: {t} is now earlier than {t} \({t} - 1 min\.\)",
    )
    assert (sent, now - limit) == (signed_at, timedelta(minutes=1))


def test_refuses_two_signatures_at_once(url, api_key, sign_post):
    signed_url, headers = presign(url(), *api_key, PROFILE)
    both = {
        **headers,
        **sign_post(url(), PROFILE, JSON),
    }
    response = http_post(signed_url, data=PROFILE, headers=both)
    assert refusal(response).startswith("Only one auth mechanism allowed")


# What a key can see: its customer, in its environment.


def test_a_staging_key_writes_staging_data_and_cannot_reach_production(
    url, demo, api_key, signed_post
):
    production_id = accepted(signed_post(url(), examples.PROFILE, *api_key))[
        "datatalksId"
    ]
    staging, secret = credential_create(customer=demo, environment="staging")
    staged = accepted(
        signed_post(url(), examples.PROFILE, staging.access_key_id, secret)
    )
    assert staged["datatalksId"] != production_id
    assert DataPoint.objects.get(pk=staged["datatalksId"]).environment == "staging"
    with_production_id = {**examples.PROFILE, "datatalksId": production_id}
    response = signed_post(url(), with_production_id, staging.access_key_id, secret)
    assert response.status_code != 200
    assert "is not a person data point of yours" in " ".join(
        response.json()["messages"]
    )


def test_another_customers_key_cannot_reach_the_demo_customers_data(
    url, demo, api_key, signed_post
):
    demo_id = accepted(signed_post(url(), examples.PROFILE, *api_key))["datatalksId"]
    other, secret = credential_create(customer=make_customer("other"))
    theirs = accepted(signed_post(url(), examples.PROFILE, other.access_key_id, secret))
    assert DataPoint.objects.get(pk=theirs["datatalksId"]).customer.slug == "other"
    body = {**examples.PROFILE, "datatalksId": demo_id}
    response = signed_post(url(), body, other.access_key_id, secret)
    assert response.status_code != 200
    assert "is not a person data point of yours" in " ".join(
        response.json()["messages"]
    )
    assert DataPoint.objects.get(pk=demo_id).revision == 1


# Secrets stay secret.


def test_no_secret_in_the_logs(url, api_key, signed_post, caplog):
    caplog.set_level("DEBUG")
    key, secret = api_key
    accepted(signed_post(url(), examples.PROFILE, key, secret))
    refusal(signed_post(url(), examples.PROFILE, key, secret[::-1]))
    refusal(signed_post(url(), examples.PROFILE, key, secret, region="us-east-1"))
    assert caplog.records, "the requests were logged"
    assert secret not in caplog.text
    assert secret[::-1] not in caplog.text


# In-process, with the Django test client: proxies and the database cost.


def post_in_process(client, sign_post, *, signed_for, **extra):
    signed = sign_post(signed_for, PROFILE, JSON)
    signed.pop("Content-Type")
    extra = {"HTTP_HOST": "testserver", **extra}  # the test client sends no Host
    return client.post(
        "/v2/profiles",
        PROFILE,
        content_type="application/json",
        headers=signed,
        **extra,
    )


BEHIND_PROXY = {
    "HTTP_HOST": "10.0.0.5:8000",
    "HTTP_X_FORWARDED_HOST": "api.datatalks.se:443",
    "HTTP_X_FORWARDED_PROTO": "https",
}


@pytest.mark.parametrize("trusted,status", [(True, 200), (False, 403)])
def test_forwarded_host_counts_only_behind_a_trusted_proxy(
    client, settings, sign_post, trusted, status
):
    settings.DATATALKS_TRUST_PROXY = trusted
    public = "https://api.datatalks.se/v2/profiles"
    response = post_in_process(client, sign_post, signed_for=public, **BEHIND_PROXY)
    assert response.status_code == status, response.json()


def test_a_forwarded_host_is_ignored_without_a_trusted_proxy(
    client, settings, sign_post
):
    settings.DATATALKS_TRUST_PROXY = False
    response = post_in_process(
        client,
        sign_post,
        signed_for="http://testserver/v2/profiles",
        HTTP_X_FORWARDED_HOST="api.datatalks.se",
    )
    assert response.status_code == 200, response.json()


def credential_queries(context) -> list[str]:
    return [
        q["sql"]
        for q in context.captured_queries
        if "ingestion_apicredential" in q["sql"]
    ]


def test_one_query_finds_the_key_which_the_process_then_keeps(client, sign_post):
    signed_for = "http://testserver/v2/profiles"
    with CaptureQueriesContext(connection) as first:
        assert (
            post_in_process(client, sign_post, signed_for=signed_for).status_code == 200
        )
    with CaptureQueriesContext(connection) as second:
        assert (
            post_in_process(client, sign_post, signed_for=signed_for).status_code == 200
        )
    select, update = credential_queries(first)
    assert select.startswith("SELECT") and "JOIN mappings_customer" in select
    assert update.startswith("UPDATE")
    # Kept for DATATALKS_CREDENTIAL_CACHE_SECONDS: the next request asks nothing, and
    # last_used_at is written at most once a minute.
    assert credential_queries(second) == []
