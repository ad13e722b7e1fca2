"""AWS Signature Version 4 verification as a DRF authentication class.

The algorithm lives in ``ingestion.sigv4``; this module reads an HTTP request into it,
finds the key, and hands the views an ``ApiCaller``. Refusals are 403s in the envelope
(``datatalks.api``) with API Gateway's wording.
"""

import logging
from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from django.utils.encoding import escape_uri_path
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed

from . import sigv4
from .caller import ApiCaller
from .credentials import credential_for_access_key, credential_mark_used
from .files.receiving import ReceivedFile, file_discard
from .models import ApiCredential
from .sigv4 import SigV4Error

logger = logging.getLogger(__name__)

_DEFAULT_PORTS = {"http": ":80", "https": ":443"}


class SigV4Authentication(BaseAuthentication):
    """Every API request is signed with SigV4, in its header or its query string.

    An unsigned request is refused here with API Gateway's "Missing Authentication
    Token", rather than left to DRF, whose permission check words it differently.
    """

    def authenticate(self, request):
        django_request = request._request
        # HttpRequest.body caches the bytes, so DRF's parsers can still read them.
        return self.verified(
            request, body_sha256=lambda: sigv4.sha256_hex(django_request.body)
        )

    def verified(self, request, *, body_sha256: Callable[[], str]):
        """(caller, credential) for a request whose signature holds."""
        django_request = request._request
        try:
            credential = authenticate_request(django_request, body_sha256=body_sha256)
        except SigV4Error as exc:
            logger.info("request refused: %s", exc)
            raise AuthenticationFailed(str(exc)) from None
        caller = ApiCaller(
            customer=credential.customer,
            environment=credential.environment,
            access_key_id=credential.access_key_id,
        )
        return caller, credential

    def authenticate_header(self, request):
        return sigv4.ALGORITHM


class SigV4FileAuthentication(SigV4Authentication):
    """File uploads: the view's parser streams the body to storage while hashing it,
    and the signature is checked against that hash. A refused upload is deleted."""

    def authenticate(self, request):
        received: list[ReceivedFile] = []

        def body_sha256() -> str:
            data = request.data  # the parser stores the body as it reads it
            if not isinstance(data, ReceivedFile):
                return sigv4.sha256_hex(b"")
            received.append(data)
            return data.sha256

        try:
            return self.verified(request, body_sha256=body_sha256)
        except AuthenticationFailed:
            for item in received:
                file_discard(item)
            raise


def authenticate_request(
    request: HttpRequest, *, body_sha256: Callable[[], str]
) -> ApiCredential:
    """The active credential that signed this request; raises ``SigV4Error`` if none.

    ``body_sha256`` reads the body (if it must) and returns its SHA-256 in hex.
    """
    parts = _claimed(request)
    sigv4.check_signed_headers(parts)
    sigv4.check_scope(
        parts,
        region=settings.DATATALKS_SIGV4_REGION,
        service=settings.DATATALKS_SIGV4_SERVICE,
    )
    now = timezone.now()
    sigv4.check_time(parts, now=now, max_skew=settings.DATATALKS_SIGV4_MAX_SKEW_SECONDS)
    credential = credential_for_access_key(parts.access_key_id)
    if credential is None:
        raise SigV4Error(sigv4.INVALID_TOKEN)
    facts = _facts(request, parts, _payload_hash(request, body_sha256))
    if not sigv4.verify(parts, facts, secret=credential.secret_access_key):
        raise SigV4Error(sigv4.SIGNATURE_MISMATCH)
    credential_mark_used(credential=credential, now=now)
    return credential


def _claimed(request: HttpRequest) -> sigv4.SignedParts:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    params = sigv4.query_params(request.META.get("QUERY_STRING", ""))
    presigned = any(name in params for name in sigv4.QUERY_AUTH_PARAMS)
    if not header and not presigned:
        raise SigV4Error(sigv4.MISSING_TOKEN)
    if header and presigned:
        raise SigV4Error(
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
            "Signature query string parameter or the Authorization header should be "
            "specified"
        )
    # Keys issued here are never temporary, so no session token can be valid.
    if "HTTP_X_AMZ_SECURITY_TOKEN" in request.META or "X-Amz-Security-Token" in params:
        raise SigV4Error(sigv4.INVALID_TOKEN)
    if header:
        return sigv4.parse_authorization(header, request.META.get("HTTP_X_AMZ_DATE"))
    return sigv4.parse_query_auth(params)


def _facts(
    request: HttpRequest, parts: sigv4.SignedParts, payload_hash: str
) -> sigv4.RequestFacts:
    return sigv4.RequestFacts(
        method=request.method or "",
        raw_path=_raw_path(request),
        raw_query=request.META.get("QUERY_STRING", ""),
        headers={name: _header(request, name) for name in parts.signed_headers},
        payload_hash=payload_hash,
    )


def _raw_path(request: HttpRequest) -> str:
    # gunicorn (RAW_URI) and uWSGI (REQUEST_URI) pass the path as the client encoded
    # it; other servers pass it decoded, so it is encoded again the way clients do.
    raw = request.META.get("RAW_URI") or request.META.get("REQUEST_URI")
    if not raw:
        return escape_uri_path(request.path)
    return raw.split("?", 1)[0] if raw.startswith("/") else urlsplit(raw).path


def _header(request: HttpRequest, name: str) -> str:
    if name == "host":
        return _signed_host(request)
    key = name.upper().replace("-", "_")
    if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        key = f"HTTP_{key}"
    return request.META.get(key, "")


def _signed_host(request: HttpRequest) -> str:
    """The Host the client signed: behind a trusted proxy, the one it forwards."""
    host = request.META.get("HTTP_HOST", "")
    if not settings.DATATALKS_TRUST_PROXY:
        return host
    forwarded = _first(request.META.get("HTTP_X_FORWARDED_HOST", ""))
    if not forwarded:
        return host
    # Clients never send (or sign) the scheme's default port; some proxies add it.
    proto = _first(request.META.get("HTTP_X_FORWARDED_PROTO", "")).lower()
    port = _DEFAULT_PORTS.get(proto)
    return forwarded.removesuffix(port) if port else forwarded


def _first(header_value: str) -> str:
    return header_value.split(",", 1)[0].strip()


def _payload_hash(request: HttpRequest, body_sha256: Callable[[], str]) -> str:
    # UNSIGNED-PAYLOAD is refused like any other claim that is not the body's hash.
    computed = body_sha256()
    claimed = request.META.get("HTTP_X_AMZ_CONTENT_SHA256")
    if claimed is None:
        return computed
    if claimed.lower() != computed:
        raise SigV4Error(
            "The provided 'x-amz-content-sha256' header does not match what was computed."
        )
    return claimed
