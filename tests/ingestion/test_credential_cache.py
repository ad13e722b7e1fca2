"""A process keeps the keys it has looked up for DATATALKS_CREDENTIAL_CACHE_SECONDS (at
most 5), so a key costs no query per request; a deactivated key, or an inactive
customer, stops working in every process within that bound, and a new key works at once.

Checked over HTTP against gunicorn (a process other than the test's, which therefore
learns of the change only through the bound), with requests signed by botocore.
"""

import subprocess
import sys
import time

import pytest
from django.conf import settings

from ingestion import examples, sigv4
from ingestion.credentials import credential_create, credential_deactivate
from ingestion.models import ApiCredential
from tests.harness.faults import Gunicorn, server_env, shared_test_database_url
from tests.harness.processes import ROOT
from tests.harness.signing import signed_session

pytestmark = pytest.mark.django_db(transaction=True)
BOUND = 5.0  # seconds: the most DATATALKS_CREDENTIAL_CACHE_SECONDS may be


@pytest.fixture
def api(tmp_path):
    env = server_env(
        shared_test_database_url(),
        settings.REDIS_URL,
        DATATALKS_CREDENTIAL_CACHE_SECONDS=str(int(BOUND)),
    )
    server = Gunicorn(env, tmp_path / "gunicorn.log", workers=1).start()
    yield server
    server.stop()


def post(api, key: str, secret: str):
    return signed_session(key, secret).post(
        api.url + "/v3/profiles", json=examples.PROFILE, timeout=30
    )


def refused_with_invalid_token(response) -> bool:
    return response.status_code == 403 and response.json()["messages"] == [
        sigv4.INVALID_TOKEN
    ]


def sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.monotonic()))


def test_a_deactivated_key_is_refused_within_the_bound(api, demo):
    credential, secret = credential_create(customer=demo)
    key = credential.access_key_id
    assert post(api, key, secret).status_code == 200  # the server now keeps the key
    credential_deactivate(credential=credential)
    deactivated = time.monotonic()
    # The server looked the key up before it was deactivated, so whatever it keeps
    # has expired by now.
    sleep_until(deactivated + BOUND + 0.05)
    assert refused_with_invalid_token(post(api, key, secret))


def test_a_rotated_key_works_at_once_and_the_old_one_stops_within_the_bound(api, demo):
    old, old_secret = credential_create(customer=demo, description="old")
    assert post(api, old.access_key_id, old_secret).status_code == 200
    new, new_secret = credential_create(customer=demo, description="new")
    assert post(api, new.access_key_id, new_secret).status_code == 200
    ApiCredential.objects.filter(pk=old.pk).update(active=False)  # no signal at all
    deactivated = time.monotonic()
    sleep_until(deactivated + BOUND + 0.05)
    assert refused_with_invalid_token(post(api, old.access_key_id, old_secret))
    assert post(api, new.access_key_id, new_secret).status_code == 200


def test_the_key_of_a_customer_made_inactive_stops_within_the_bound(api, demo):
    credential, secret = credential_create(customer=demo)
    assert post(api, credential.access_key_id, secret).status_code == 200
    demo.active = False
    demo.save()
    sleep_until(time.monotonic() + BOUND + 0.05)
    assert refused_with_invalid_token(post(api, credential.access_key_id, secret))


def test_the_bound_cannot_be_set_above_five_seconds():
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={
            **server_env("sqlite:///unused.sqlite3", ""),
            "DATATALKS_CREDENTIAL_CACHE_SECONDS": "6",
        },
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "DATATALKS_CREDENTIAL_CACHE_SECONDS must be at most 5" in done.stderr
