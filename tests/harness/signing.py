"""Requests signed as customers' code signs them: botocore's SigV4Auth."""

import json
import subprocess
from urllib.parse import urlsplit

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from django.conf import settings
from rest_framework.test import APIClient


def run_curl(command: str) -> tuple[int, dict]:
    """Runs a curl command line as printed for customers (``curl --aws-sigv4 ...``);
    the HTTP status and the JSON body of its answer."""
    done = subprocess.run(
        ["bash", "-c", command + " -sS -w '\n%{http_code}'"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    body, _, status = done.stdout.rpartition("\n")
    return int(status), json.loads(body)


def sign_with_botocore(method, url, body=b"", *, key, secret, headers=None, **scope):
    """The headers botocore's SigV4Auth adds to a request, as customers' code signs it."""
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    SigV4Auth(
        Credentials(key, secret, scope.get("token")),
        scope.get("service", settings.DATATALKS_SIGV4_SERVICE),
        scope.get("region", settings.DATATALKS_SIGV4_REGION),
    ).add_auth(request)
    return dict(request.headers.items())


class BotocoreSigV4(requests.auth.AuthBase):
    """Signs each request as customers' code does, with botocore's SigV4Auth.

    Only Content-Type (and the Host and X-Amz-Date botocore adds) are signed, so the
    signature does not depend on what requests adds on its own (Accept-Encoding...).
    """

    def __init__(self, key: str, secret: str):
        self.credentials = Credentials(key, secret)

    def __call__(self, prepared: requests.PreparedRequest) -> requests.PreparedRequest:
        body = prepared.body or b""
        if isinstance(body, str):
            body = body.encode()
        headers = {}
        if prepared.headers.get("Content-Type"):
            headers["Content-Type"] = prepared.headers["Content-Type"]
        aws = AWSRequest(
            method=prepared.method, url=prepared.url, data=body, headers=headers
        )
        SigV4Auth(
            self.credentials,
            settings.DATATALKS_SIGV4_SERVICE,
            settings.DATATALKS_SIGV4_REGION,
        ).add_auth(aws)
        for name in ("Authorization", "X-Amz-Date"):
            prepared.headers[name] = aws.headers[name]
        return prepared


def signed_session(key: str, secret: str) -> requests.Session:
    """A requests session whose every request is signed for ``key``."""
    session = requests.Session()
    session.auth = BotocoreSigV4(key, secret)
    return session


class SignedClient(APIClient):
    """DRF's test client with every request signed by botocore's SigV4Auth, as a
    customer's code signs it: the API authenticates it like any other request."""

    def __init__(self, key: str, secret: str, **defaults):
        super().__init__(**defaults)
        self.key, self.secret = key, secret

    def generic(
        self,
        method,
        path,
        data="",
        content_type="application/octet-stream",
        secure=False,
        *,
        headers=None,
        **extra,
    ):
        parts = urlsplit(str(path))
        query = extra.get("QUERY_STRING") or parts.query
        url = f"http://testserver{parts.path}" + (f"?{query}" if query else "")
        body = data.encode() if isinstance(data, str) else bytes(data or b"")
        signed = sign_with_botocore(
            method,
            url,
            body,
            key=self.key,
            secret=self.secret,
            # A DELETE or GET without a body has no Content-Type to sign.
            headers={"Host": "testserver"}
            | ({"Content-Type": content_type} if content_type else {}),
        )
        headers = {**(headers or {}), "Host": "testserver"}
        headers |= {name: signed[name] for name in ("Authorization", "X-Amz-Date")}
        return super().generic(
            method, path, data, content_type, secure, headers=headers, **extra
        )
