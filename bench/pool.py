"""Request bodies with distinct Hard-IDs, signed with botocore as customers sign them.

Signatures carry x-amz-date and are valid for DATATALKS_SIGV4_MAX_SKEW_SECONDS (5
minutes), so each phase signs its own pool just before it runs.
"""

import itertools
import json
from pathlib import Path

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from ingestion import examples

# Hard-IDs never repeat within a run, so every pooled request inserts.
_numbers = itertools.count(1_000_000)


def profile(number: int) -> dict:
    """The reference profile with its own customer_id (Hard-ID) and email."""
    data = {**examples.PROFILE["data"], "customer_id": number}
    data["email"] = f"bench.{number}@example.com"
    return {**examples.PROFILE, "data": data}


def event(number: int, customer_id: int) -> dict:
    """The reference purchase with its own event_id, for one profile's customer_id."""
    data = {**examples.EVENT["data"], "event_id": f"BENCH-{number}"}
    data["customer_id"] = customer_id
    return {**examples.EVENT, "data": data}


def new_profiles(count: int) -> list[dict]:
    return [profile(next(_numbers)) for _ in range(count)]


def batch_body(items: list[dict]) -> bytes:
    return json.dumps({"items": items}, separators=(",", ":")).encode()


class Signer:
    """Signs requests to one server with one API key (botocore's SigV4Auth)."""

    def __init__(
        self, base_url: str, key: str, secret: str, *, region: str, service: str
    ):
        self.base_url = base_url
        self.host = base_url.split("://", 1)[1]
        self._auth = SigV4Auth(Credentials(key, secret), service, region)

    def headers(self, path: str, body: bytes) -> dict[str, str]:
        request = AWSRequest(
            method="POST",
            url=self.base_url + path,
            data=body,
            headers={"Content-Type": "application/json"},
        )
        self._auth.add_auth(request)
        return dict(request.headers.items())

    def post(self, path: str, body: bytes, timeout: float = 60) -> requests.Response:
        return requests.post(
            self.base_url + path,
            data=body,
            headers=self.headers(path, body),
            timeout=timeout,
        )

    def write_pool(self, file: Path, path: str, bodies) -> int:
        """Writes one signed request a line for bench/signed.lua; returns how many."""
        count = 0
        with file.open("w") as out:
            for body in bodies:
                signed = self.headers(path, body)
                fields = [
                    path,
                    signed["X-Amz-Date"],
                    signed["Authorization"],
                    self.host,
                    body.decode(),
                ]
                out.write("\t".join(fields) + "\n")
                count += 1
        return count


def single_bodies(count: int):
    """``count`` single-profile bodies, each a new Hard-ID."""
    for item in new_profiles(count):
        yield json.dumps(item, separators=(",", ":")).encode()


def batch_bodies(requests_count: int, items: int):
    """``requests_count`` batch bodies of ``items`` new profiles each."""
    for _ in range(requests_count):
        yield batch_body(new_profiles(items))


def scope() -> dict:
    """The SigV4 region and service the server expects."""
    from django.conf import settings

    return {
        "region": settings.DATATALKS_SIGV4_REGION,
        "service": settings.DATATALKS_SIGV4_SERVICE,
    }


def check_accepted(response, items: int) -> None:
    """The request was accepted whole: 200, success, every item stored."""
    body = response.json()
    results = body.get("results", [])
    if (
        response.status_code != 200
        or not body.get("success")
        or (items > 1 and len(results) != items)
    ):
        raise RuntimeError(f"request refused: {response.status_code} {str(body)[:500]}")
