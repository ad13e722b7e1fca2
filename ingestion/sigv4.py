"""AWS Signature Version 4 as AWS specifies it: pure functions, no Django, no database.

The algorithm: https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html.
Refusals raise ``SigV4Error`` worded as API Gateway words them, so a customer's existing
knowledge of AWS applies. ``ingestion.auth`` feeds this module from the HTTP request.
"""

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, quote, unquote, unquote_plus

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
MAX_EXPIRES_SECONDS = 7 * 24 * 3600  # AWS's limit for presigned requests
QUERY_AUTH_PARAMS = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Signature",
    "X-Amz-Date",
    "X-Amz-SignedHeaders",
)

MISSING_TOKEN = "Missing Authentication Token"  # noqa: S105 (a message, not a secret)
INVALID_TOKEN = "The security token included in the request is invalid."  # noqa: S105 (a message)
SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method."
)


class SigV4Error(Exception):
    """A refused request; the message is shown to the caller as it is."""


@dataclass(frozen=True, slots=True)
class SignedParts:
    """What a request claims about its signature, from its header or its query string."""

    access_key_id: str
    scope_date: str
    region: str
    service: str
    terminator: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str
    expires: int | None = None  # query-string auth only

    @property
    def scope(self) -> str:
        return credential_scope(self.scope_date, self.region, self.service)


# The algorithm.


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def normalize_path(path: str) -> str:
    """RFC 3986 dot-segment removal plus collapsed slashes, as AWS (non-S3) does."""
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment and segment != ".":
            segments.append(segment)
    trailing = "/" if path.endswith("/") and segments else ""
    return "/" + "/".join(segments) + trailing


def canonical_uri(raw_path: str) -> str:
    """The path as sent (already URI-encoded), normalized and URI-encoded once more.

    AWS encodes each segment twice for every service but S3; botocore and
    requests-aws4auth do the same, so ``/a%20b`` is signed as ``/a%2520b``.
    """
    return quote(normalize_path(raw_path or "/"), safe="/~")


def canonical_query_string(raw_query: str, *, exclude: Iterable[str] = ()) -> str:
    """Each name and value decoded, URI-encoded (RFC 3986 unreserved kept), then sorted."""
    return _encode_sorted(_query_pairs(raw_query, unquote, exclude))


def canonical_headers(headers: Mapping[str, str], signed_headers: Iterable[str]) -> str:
    """``name:value\\n`` per signed header, values trimmed and inner spaces collapsed."""
    return "".join(
        f"{name}:{' '.join(headers.get(name, '').split())}\n" for name in signed_headers
    )


def canonical_request(
    *,
    method: str,
    uri: str,
    query: str,
    headers: Mapping[str, str],
    signed_headers: Iterable[str],
    payload_hash: str,
) -> str:
    signed = list(signed_headers)
    return "\n".join(
        [
            method.upper(),
            uri,
            query,
            canonical_headers(headers, signed),
            ";".join(signed),
            payload_hash,
        ]
    )


def credential_scope(date: str, region: str, service: str) -> str:
    return f"{date}/{region}/{service}/{TERMINATOR}"


def string_to_sign(*, amz_date: str, scope: str, canonical_request: str) -> str:
    digest = sha256_hex(canonical_request.encode())
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = _hmac(f"AWS4{secret}".encode(), date)
    for part in (region, service, TERMINATOR):
        key = _hmac(key, part)
    return key


def signature(key: bytes, string_to_sign: str) -> str:
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def signatures_match(expected: str, provided: str) -> bool:
    """Constant-time, so the time taken tells nothing about how much of it matched."""
    return hmac.compare_digest(expected.encode(), provided.lower().encode())


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


# What clients actually sign. Clients agree on the simple requests, and differ on
# paths and query strings that are encoded unusually; each form below is exactly
# what one real client signs, and the signature still covers every byte of the
# request, so accepting any of them lets no one change what was signed.


def canonical_uris(raw_path: str) -> list[str]:
    # curl 7.x signs the path exactly as sent (curl 8 normalizes like AWS).
    return _unique([canonical_uri(raw_path), raw_path or "/"])


def canonical_query_strings(
    raw_query: str, *, exclude: Iterable[str] = ()
) -> list[str]:
    excluded = frozenset(exclude)
    raw_items = [
        i for i in raw_query.split("&") if unquote(i.partition("=")[0]) not in excluded
    ]
    raw_pairs = [
        (k, v) for k, _, v in (item.partition("=") for item in raw_items if item)
    ]
    return _unique(
        [
            canonical_query_string(raw_query, exclude=excluded),
            # requests-aws4auth decodes "+" as a space before encoding.
            _encode_sorted(_query_pairs(raw_query, unquote_plus, excluded)),
            # botocore sorts the pairs of a URL's query string without re-encoding.
            "&".join(f"{k}={v}" for k, v in sorted(raw_pairs)),
            # curl 7.x signs the query string as sent, unsorted.
            "&".join(raw_items),
        ]
    )


def _query_pairs(
    raw_query: str, decode, exclude: Iterable[str]
) -> list[tuple[str, str]]:
    pairs = []
    for item in raw_query.split("&"):
        name, _, value = item.partition("=")
        if item and unquote(name) not in exclude:
            pairs.append((decode(name), decode(value)))
    return pairs


def _encode_sorted(pairs: list[tuple[str, str]]) -> str:
    encoded = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in encoded)


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


# Parsing what the request claims.


def query_params(raw_query: str) -> dict[str, str]:
    """The query string's parameters, decoded; a repeated name keeps its last value."""
    return dict(parse_qsl(raw_query, keep_blank_values=True))


_AUTH_PARAM = re.compile(r"\s*([A-Za-z]+)\s*=\s*([^,\s]*)\s*")


def parse_authorization(header: str, amz_date: str | None) -> SignedParts:
    """The ``Authorization: AWS4-HMAC-SHA256 Credential=..., ...`` header's claims."""
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise SigV4Error(
            f"Unsupported Authorization algorithm {algorithm[:40]!r}: sign the "
            f"request with AWS Signature Version 4 ({ALGORITHM})."
        )
    params = dict(m.groups() for m in map(_AUTH_PARAM.fullmatch, rest.split(",")) if m)
    missing = [
        f"Authorization header requires '{name}' parameter."
        for name in ("Credential", "Signature", "SignedHeaders")
        if not params.get(name)
    ]
    if not amz_date:
        missing.append(
            "Authorization header requires existence of a 'X-Amz-Date' header."
        )
    if missing:
        raise SigV4Error(" ".join(missing))
    return _parts(
        params["Credential"], params["SignedHeaders"], params["Signature"], amz_date
    )


def parse_query_auth(params: Mapping[str, str]) -> SignedParts:
    """The presigned-URL claims: ``X-Amz-Algorithm``, ``X-Amz-Credential`` and the rest."""
    if any(not params.get(name) for name in QUERY_AUTH_PARAMS):
        raise SigV4Error(
            "AWS query-string parameters must include "
            + ", ".join(f"'{name}'" for name in QUERY_AUTH_PARAMS)
            + ". Re-examine the query-string parameters."
        )
    if params["X-Amz-Algorithm"] != ALGORITHM:
        raise SigV4Error(f"X-Amz-Algorithm only supports '{ALGORITHM}'.")
    parts = _parts(
        params["X-Amz-Credential"],
        params["X-Amz-SignedHeaders"],
        params["X-Amz-Signature"],
        params["X-Amz-Date"],
    )
    return replace(parts, expires=_expires(params.get("X-Amz-Expires")))


def _parts(
    credential: str, signed_headers: str, sig: str, amz_date: str
) -> SignedParts:
    pieces = credential.split("/")
    if len(pieces) != 5:
        raise SigV4Error(
            "Credential should have 5 slash-separated parts (<access key id>/<date>/"
            f"<region>/<service>/{TERMINATOR}), not {len(pieces)}."
        )
    key, date, region, service, terminator = pieces
    return SignedParts(
        access_key_id=key,
        scope_date=date,
        region=region,
        service=service,
        terminator=terminator,
        signed_headers=tuple(signed_headers.split(";")),
        signature=sig,
        amz_date=amz_date,
    )


def _expires(raw: str | None) -> int:
    if raw is None or not raw.isdigit() or not 1 <= int(raw) <= MAX_EXPIRES_SECONDS:
        raise SigV4Error(
            f"X-Amz-Expires must be a number of seconds from 1 to {MAX_EXPIRES_SECONDS}."
        )
    return int(raw)


# Checks that need no secret: cheap, so they run before the database is asked.


def check_scope(parts: SignedParts, *, region: str, service: str) -> None:
    """The credential scope names this service's region, service and the request's date."""
    if parts.terminator != TERMINATOR:
        raise SigV4Error(
            f"Credential should be scoped with a valid terminator: '{TERMINATOR}', "
            f"not '{parts.terminator[:40]}'."
        )
    if parts.service != service:
        raise SigV4Error(
            f"Credential should be scoped to correct service: '{service}'."
        )
    if parts.region != region:
        raise SigV4Error(
            f"Credential should be scoped to a valid region, not '{parts.region[:40]}'. "
            f"The valid region is '{region}'."
        )
    if parts.scope_date != parts.amz_date[:8]:
        raise SigV4Error(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
            f"date from HTTP: '{parts.scope_date[:40]}' != '{parts.amz_date[:8]}', "
            f"from '{parts.amz_date[:40]}'."
        )


def check_signed_headers(parts: SignedParts) -> None:
    """``host`` is always signed; ``x-amz-date`` too unless it is a signed query parameter."""
    if "host" not in parts.signed_headers:
        raise SigV4Error("'Host' must be a 'SignedHeader' in the AWS Authorization.")
    if parts.expires is None and "x-amz-date" not in parts.signed_headers:
        raise SigV4Error(
            "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization."
        )


# AMZ_DATE_FORMAT's digits (strptime took 4 % of the request's CPU in the signature check).
_AMZ_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z", re.ASCII)


def request_time(amz_date: str) -> datetime:
    try:
        fields = _AMZ_DATE.fullmatch(amz_date)
        if fields is None:
            raise ValueError
        return datetime(*map(int, fields.groups()), tzinfo=UTC)
    except ValueError:
        raise SigV4Error(
            f"Date must be in ISO-8601 'basic format'. Got '{amz_date[:40]}'. "
            "See http://en.wikipedia.org/wiki/ISO_8601"
        ) from None


def check_time(parts: SignedParts, *, now: datetime, max_skew: int) -> None:
    """Within ``max_skew`` of the server's clock; a presigned URL lives ``expires``."""
    sent = request_time(parts.amz_date)
    oldest = parts.expires if parts.expires is not None else max_skew
    if sent < now - timedelta(seconds=oldest):
        raise SigV4Error(
            f"Signature expired: {_stamp(sent)} is now earlier than "
            f"{_stamp(now - timedelta(seconds=oldest))} ({_stamp(now)} - {_span(oldest)})"
        )
    if sent > now + timedelta(seconds=max_skew):
        raise SigV4Error(
            f"Signature not yet current: {_stamp(sent)} is still later than "
            f"{_stamp(now + timedelta(seconds=max_skew))} ({_stamp(now)} + {_span(max_skew)})"
        )


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(AMZ_DATE_FORMAT)


def _span(seconds: int) -> str:
    return f"{seconds // 60} min." if seconds % 60 == 0 else f"{seconds} sec."


# Verification.


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """The parts of an HTTP request a signature covers, as received."""

    method: str
    raw_path: str
    raw_query: str
    headers: Mapping[str, str]  # lower-case names of the signed headers
    payload_hash: str


def verify(parts: SignedParts, facts: RequestFacts, *, secret: str) -> bool:
    """True when ``parts.signature`` is this request's signature with ``secret``."""
    key = signing_key(secret, parts.scope_date, parts.region, parts.service)
    exclude = ("X-Amz-Signature",) if parts.expires is not None else ()
    matched = False
    for uri in canonical_uris(facts.raw_path):
        for query in canonical_query_strings(facts.raw_query, exclude=exclude):
            expected = signature(key, _string_to_sign(parts, facts, uri, query))
            # No early exit: every candidate costs the same whether or not one matched.
            matched |= signatures_match(expected, parts.signature)
    return matched


def _string_to_sign(
    parts: SignedParts, facts: RequestFacts, uri: str, query: str
) -> str:
    request = canonical_request(
        method=facts.method,
        uri=uri,
        query=query,
        headers=facts.headers,
        signed_headers=parts.signed_headers,
        payload_hash=facts.payload_hash,
    )
    return string_to_sign(
        amz_date=parts.amz_date, scope=parts.scope, canonical_request=request
    )
