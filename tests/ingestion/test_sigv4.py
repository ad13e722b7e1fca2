"""The SigV4 algorithm (ingestion.sigv4): AWS's published example, and real signers."""

import dataclasses
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlencode, urlsplit

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st
from requests_aws4auth import AWS4Auth

from ingestion import sigv4
from ingestion.sigv4 import RequestFacts, SigV4Error

# https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html, and the
# SigV4 test suite's "get-vanilla" IAM ListUsers example it comes from.
EXAMPLE_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
EXAMPLE_SIGNATURE = "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
EXAMPLE_AUTHORIZATION = (
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
    f"SignedHeaders=content-type;host;x-amz-date, Signature={EXAMPLE_SIGNATURE}"
)
EXAMPLE_FACTS = RequestFacts(
    method="GET",
    raw_path="/",
    raw_query="Action=ListUsers&Version=2010-05-08",
    headers={
        "content-type": "application/x-www-form-urlencoded; charset=utf-8",
        "host": "iam.amazonaws.com",
        "x-amz-date": "20150830T123600Z",
    },
    payload_hash=sigv4.sha256_hex(b""),
)
EXAMPLE_CANONICAL_REQUEST = """GET
/
Action=ListUsers&Version=2010-05-08
content-type:application/x-www-form-urlencoded; charset=utf-8
host:iam.amazonaws.com
x-amz-date:20150830T123600Z

content-type;host;x-amz-date
e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"""


def example_parts():
    return sigv4.parse_authorization(EXAMPLE_AUTHORIZATION, "20150830T123600Z")


def test_aws_example_canonical_request_and_string_to_sign():
    request = sigv4.canonical_request(
        method="GET",
        uri=sigv4.canonical_uri("/"),
        query=sigv4.canonical_query_string(EXAMPLE_FACTS.raw_query),
        headers=EXAMPLE_FACTS.headers,
        signed_headers=["content-type", "host", "x-amz-date"],
        payload_hash=EXAMPLE_FACTS.payload_hash,
    )
    assert request == EXAMPLE_CANONICAL_REQUEST
    to_sign = sigv4.string_to_sign(
        amz_date="20150830T123600Z",
        scope=sigv4.credential_scope("20150830", "us-east-1", "iam"),
        canonical_request=request,
    )
    assert to_sign.splitlines() == [
        "AWS4-HMAC-SHA256",
        "20150830T123600Z",
        "20150830/us-east-1/iam/aws4_request",
        "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59",
    ]


def test_aws_example_signing_key_and_signature():
    key = sigv4.signing_key(EXAMPLE_SECRET, "20150830", "us-east-1", "iam")
    assert (
        key.hex() == "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
    )
    to_sign = sigv4.string_to_sign(
        amz_date="20150830T123600Z",
        scope="20150830/us-east-1/iam/aws4_request",
        canonical_request=EXAMPLE_CANONICAL_REQUEST,
    )
    assert sigv4.signature(key, to_sign) == EXAMPLE_SIGNATURE


def test_aws_example_verifies_from_its_authorization_header():
    assert sigv4.verify(example_parts(), EXAMPLE_FACTS, secret=EXAMPLE_SECRET)


def test_aws_example_fails_with_a_secret_off_by_one_character():
    wrong = EXAMPLE_SECRET[:-1] + "X"
    assert not sigv4.verify(example_parts(), EXAMPLE_FACTS, secret=wrong)


@pytest.mark.parametrize(
    "change",
    [
        {"method": "POST"},
        {"raw_path": "/users"},
        {"raw_query": "Action=ListUsers&Version=2010-05-09"},
        {"payload_hash": sigv4.sha256_hex(b"{}")},
        {"headers": {**EXAMPLE_FACTS.headers, "host": "evil.example.com"}},
    ],
)
def test_aws_example_fails_when_any_signed_part_changes(change):
    facts = dataclasses.replace(EXAMPLE_FACTS, **change)
    assert not sigv4.verify(example_parts(), facts, secret=EXAMPLE_SECRET)


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("", "/"),
        ("/", "/"),
        ("/v2/profiles", "/v2/profiles"),
        ("/a%20b/c", "/a%2520b/c"),  # encoded twice, as AWS does for all but S3
        ("/v2/./x/../profiles", "/v2/profiles"),
        ("//v2//profiles/", "/v2/profiles/"),
        ("/ü", "/%C3%BC"),
    ],
)
def test_canonical_uri(raw, expected):
    assert sigv4.canonical_uri(raw) == expected


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("", ""),
        ("b=2&a=1", "a=1&b=2"),
        ("a=2&a=1", "a=1&a=2"),
        ("flag&x=", "flag=&x="),
        ("q=a%20b&r=a+b", "q=a%20b&r=a%2Bb"),
        ("k=%7e-_.", "k=~-_."),
        ("k=ü/:", "k=%C3%BC%2F%3A"),
    ],
)
def test_canonical_query_string(raw, expected):
    assert sigv4.canonical_query_string(raw) == expected


def test_candidate_forms_cover_what_each_client_signs():
    assert sigv4.canonical_uris("/a%20b") == ["/a%2520b", "/a%20b"]  # botocore, curl 7
    assert sigv4.canonical_uris("/v2/profiles") == ["/v2/profiles"]
    assert sigv4.canonical_query_strings(
        "b=a+b&a&X-Amz-Signature=f", exclude=["X-Amz-Signature"]
    ) == [
        "a=&b=a%2Bb",  # AWS
        "a=&b=a%20b",  # requests-aws4auth
        "a=&b=a+b",  # botocore
        "b=a+b&a",  # curl 7
    ]


def test_canonical_query_string_leaves_out_excluded_names():
    raw = "X-Amz-Signature=abc&X-Amz-Date=20150830T123600Z"
    assert sigv4.canonical_query_string(raw, exclude=["X-Amz-Signature"]) == (
        "X-Amz-Date=20150830T123600Z"
    )


def test_canonical_headers_trim_and_collapse_spaces():
    headers = {"host": " example.com ", "x-custom": "a   b\t c"}
    assert sigv4.canonical_headers(headers, ["host", "x-custom"]) == (
        "host:example.com\nx-custom:a b c\n"
    )


def test_signatures_match_is_exact():
    assert sigv4.signatures_match(EXAMPLE_SIGNATURE, EXAMPLE_SIGNATURE.upper())
    assert not sigv4.signatures_match(EXAMPLE_SIGNATURE, EXAMPLE_SIGNATURE[:-1] + "0")
    assert not sigv4.signatures_match(EXAMPLE_SIGNATURE, "")


# Parsing and the checks that need no secret.


def test_parse_authorization_names_every_missing_part():
    with pytest.raises(SigV4Error) as error:
        sigv4.parse_authorization("AWS4-HMAC-SHA256 Credential=AKID/x/y/z/w", None)
    assert str(error.value) == (
        "Authorization header requires 'Signature' parameter. "
        "Authorization header requires 'SignedHeaders' parameter. "
        "Authorization header requires existence of a 'X-Amz-Date' header."
    )


def test_parse_authorization_refuses_other_schemes():
    with pytest.raises(SigV4Error, match="Unsupported Authorization algorithm 'Basic'"):
        sigv4.parse_authorization("Basic dXNlcjpwYXNz", "20150830T123600Z")


def test_parse_authorization_refuses_a_short_credential():
    header = (
        "AWS4-HMAC-SHA256 Credential=AKID/20150830, SignedHeaders=host, Signature=a"
    )
    with pytest.raises(SigV4Error, match=r"5 slash-separated parts.*not 2"):
        sigv4.parse_authorization(header, "20150830T123600Z")


def test_parse_query_auth_requires_every_parameter():
    with pytest.raises(SigV4Error, match="AWS query-string parameters must include"):
        sigv4.parse_query_auth({"X-Amz-Algorithm": "AWS4-HMAC-SHA256"})


@pytest.mark.parametrize("expires", [None, "0", "-1", "604801", "1h"])
def test_parse_query_auth_bounds_expires(expires):
    params = {
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": "AKID/20150830/us-east-1/iam/aws4_request",
        "X-Amz-Date": "20150830T123600Z",
        "X-Amz-SignedHeaders": "host",
        "X-Amz-Signature": EXAMPLE_SIGNATURE,
    }
    if expires is not None:
        params["X-Amz-Expires"] = expires
    with pytest.raises(SigV4Error, match="X-Amz-Expires must be"):
        sigv4.parse_query_auth(params)


@pytest.mark.parametrize(
    "region,service,terminator,message",
    [
        (
            "us-east-1",
            "execute-api",
            "aws4_request",
            "Credential should be scoped to a valid region, not 'us-east-1'. "
            "The valid region is 'eu-north-1'.",
        ),
        (
            "eu-north-1",
            "iam",
            "aws4_request",
            "Credential should be scoped to correct service: 'execute-api'.",
        ),
        (
            "eu-north-1",
            "execute-api",
            "aws5_request",
            "Credential should be scoped with a valid terminator: 'aws4_request', "
            "not 'aws5_request'.",
        ),
    ],
)
def test_check_scope_names_the_expected_value(region, service, terminator, message):
    parts = sigv4.SignedParts(
        "AKID",
        "20150830",
        region,
        service,
        terminator,
        ("host",),
        "",
        "20150830T123600Z",
    )
    with pytest.raises(SigV4Error) as error:
        sigv4.check_scope(parts, region="eu-north-1", service="execute-api")
    assert str(error.value) == message


def test_check_scope_requires_the_date_of_x_amz_date():
    parts = sigv4.SignedParts(
        "AKID",
        "20150829",
        "eu-north-1",
        "execute-api",
        "aws4_request",
        ("host",),
        "",
        "20150830T123600Z",
    )
    with pytest.raises(SigV4Error) as error:
        sigv4.check_scope(parts, region="eu-north-1", service="execute-api")
    assert str(error.value) == (
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
        "from HTTP: '20150829' != '20150830', from '20150830T123600Z'."
    )


def test_check_signed_headers_requires_host_and_date():
    parts = example_parts()
    sigv4.check_signed_headers(parts)
    without_host = sigv4.parse_authorization(
        EXAMPLE_AUTHORIZATION.replace("content-type;host;", "content-type;"), "x"
    )
    with pytest.raises(SigV4Error, match="'Host' must be a 'SignedHeader'"):
        sigv4.check_signed_headers(without_host)
    without_date = sigv4.parse_authorization(
        EXAMPLE_AUTHORIZATION.replace(";x-amz-date", ""), "x"
    )
    with pytest.raises(SigV4Error, match="'X-Amz-Date' must be a 'SignedHeader'"):
        sigv4.check_signed_headers(without_date)


NOW = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)


def parts_at(moment: datetime, expires=None) -> sigv4.SignedParts:
    stamp = moment.strftime(sigv4.AMZ_DATE_FORMAT)
    return sigv4.SignedParts(
        "AKID", stamp[:8], "r", "s", "aws4_request", ("host",), "", stamp, expires
    )


def test_check_time_accepts_five_minutes_either_way():
    sigv4.check_time(parts_at(NOW - timedelta(minutes=5)), now=NOW, max_skew=300)
    sigv4.check_time(parts_at(NOW + timedelta(minutes=5)), now=NOW, max_skew=300)


def test_check_time_names_both_times_when_expired():
    with pytest.raises(SigV4Error) as error:
        sigv4.check_time(parts_at(NOW - timedelta(minutes=6)), now=NOW, max_skew=300)
    assert str(error.value) == (
        "Signature expired: 20240101T115400Z is now earlier than 20240101T115500Z "
        "(20240101T120000Z - 5 min.)"
    )


def test_check_time_names_both_times_when_in_the_future():
    with pytest.raises(SigV4Error) as error:
        sigv4.check_time(parts_at(NOW + timedelta(minutes=6)), now=NOW, max_skew=90)
    assert str(error.value) == (
        "Signature not yet current: 20240101T120600Z is still later than "
        "20240101T120130Z (20240101T120000Z + 90 sec.)"
    )


def test_check_time_lets_a_presigned_url_live_its_expires():
    sigv4.check_time(parts_at(NOW - timedelta(minutes=50), 3600), now=NOW, max_skew=300)
    with pytest.raises(SigV4Error, match=r"- 60 min\.\)$"):
        sigv4.check_time(
            parts_at(NOW - timedelta(minutes=61), 3600), now=NOW, max_skew=300
        )


def test_request_time_refuses_other_formats():
    with pytest.raises(
        SigV4Error, match=re.escape("ISO-8601 'basic format'. Got '2015-08-30'")
    ):
        sigv4.request_time("2015-08-30")


# Real signers: whatever botocore and requests-aws4auth sign, the algorithm verifies.

segment = st.text(
    st.characters(blacklist_categories=["Cs", "Cc"], blacklist_characters="/?#%"),
    min_size=1,
    max_size=8,
)
query = st.lists(st.tuples(segment, st.text(max_size=8)), max_size=4)
body = st.binary(max_size=64)


def as_url(segments, params) -> str:
    path = "/" + "/".join(quote(s, safe="") for s in segments)
    return f"http://api.example.com{path}" + (f"?{urlencode(params)}" if params else "")


def facts_for(method, url, headers, payload) -> RequestFacts:
    parts = urlsplit(url)
    return RequestFacts(
        method=method,
        raw_path=parts.path,
        raw_query=parts.query,
        headers={name.lower(): value for name, value in headers.items()},
        payload_hash=sigv4.sha256_hex(payload),
    )


@settings(max_examples=150, deadline=None)
@given(st.lists(segment, min_size=1, max_size=4), query, body)
def test_verifies_what_botocore_signs(segments, params, payload):
    url = as_url(segments, params)
    request = AWSRequest(method="POST", url=url, data=payload)
    SigV4Auth(Credentials("AKID", "secret"), "execute-api", "eu-north-1").add_auth(
        request
    )
    parts = sigv4.parse_authorization(
        request.headers["Authorization"], request.headers["X-Amz-Date"]
    )
    headers = {**request.headers, "host": "api.example.com"}
    facts = facts_for("POST", url, headers, payload)
    assert sigv4.verify(parts, facts, secret="secret")
    assert not sigv4.verify(parts, facts, secret="secreT")


@settings(max_examples=150, deadline=None)
@given(st.lists(segment, min_size=1, max_size=4), query, body)
def test_verifies_what_requests_aws4auth_signs(segments, params, payload):
    auth = AWS4Auth("AKID", "secret", "eu-north-1", "execute-api")
    prepared = requests.Request(
        "POST", as_url(segments, params), data=payload
    ).prepare()
    auth(prepared)
    parts = sigv4.parse_authorization(
        prepared.headers["Authorization"], prepared.headers["x-amz-date"]
    )
    headers = {**prepared.headers, "host": "api.example.com"}
    facts = facts_for("POST", prepared.url, headers, payload)
    assert sigv4.verify(parts, facts, secret="secret")
    assert not sigv4.verify(parts, facts, secret="secreT")
