"""Requests signed as customers' code signs them: botocore's SigV4Auth."""

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from django.conf import settings


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
