"""``make run`` end to end, as a new user runs it: scripts/run.sh on its embedded
default (a SQLite file and kombu's filesystem broker, no REDIS_URL) and on PostgreSQL +
Redis, each in a temporary directory on free loopback ports.

The curl it prints answers 200 three times; a profile, an event and an inventory item,
each sent twice with one key (botocore-signed), are stored once each and reach the
Salesmanago sandbox it started. The write path's SQL must keep running on SQLite:
this test is what says so.
"""

import os
import re
import signal
import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest
import requests
from django.conf import settings
from django.db import connection

from ingestion import examples
from tests.harness import processes
from tests.harness.delivery import PrivateRedis
from tests.harness.processes import free_port, wait_for
from tests.harness.signing import run_curl, signed_session

CURL_HEADER = "Try it (AWS Signature V4, signed by curl):\n"
KEY_WARNING = "DATATALKS_ENCRYPTION_KEY is not set"
# What a new user's shell has: none of the test run's own settings.
DROPPED = (
    "DJANGO_SETTINGS_MODULE",
    "DJANGO_SECRET_KEY",
    "DATATALKS_ENCRYPTION_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "SALESMANAGO_URL",
    "DJANGO_DEBUG",
)


class MakeRun:
    """scripts/run.sh in its own process group; its output goes to ``log``."""

    def __init__(self, tmp: Path, **env: str):
        self.port, self.sandbox_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.sandbox_url = f"http://127.0.0.1:{self.sandbox_port}"
        self.log_path = tmp / "make-run.log"
        self.env = {k: v for k, v in os.environ.items() if k not in DROPPED}
        self.env.update(
            DATATALKS_VAR_DIR=str(tmp / "var"),
            DATATALKS_PORT=str(self.port),
            DATATALKS_SANDBOX_PORT=str(self.sandbox_port),
            DATATALKS_DELIVERY_SWEEP_SECONDS="2",
            PYTHONUNBUFFERED="1",
            **env,
        )
        self.process = None

    def start(self) -> "MakeRun":
        self.process = processes.start(
            ["scripts/run.sh"], log=self.log_path, env=self.env
        )
        wait_for(self._ready, 180, "make run to serve the API and the sandbox", 0.5)
        return self

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"make run exited:\n{self.output()[-3000:]}")
        try:
            return (
                requests.get(self.url + "/api/schema/", timeout=2).ok
                and requests.get(self.sandbox_url + "/_sandbox/state", timeout=2).ok
            )
        except requests.RequestException:
            return False

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def printed_curl(self) -> str:
        after = self.output().split(CURL_HEADER, 1)[1]
        lines = after.splitlines()
        end = next(i for i, line in enumerate(lines) if not line.endswith("\\"))
        return "\n".join(lines[: end + 1])

    def sandbox_state(self) -> dict:
        return requests.get(self.sandbox_url + "/_sandbox/state", timeout=5).json()

    def stop(self) -> None:
        """Ctrl-C, as a user stops it: everything it started ends."""
        if self.process and self.process.poll() is None:
            processes.signal_group(self.process, signal.SIGINT)
            try:
                self.process.wait(40)
            except subprocess.TimeoutExpired:
                processes.kill(self.process)
                raise AssertionError("make run did not stop on Ctrl-C") from None
            try:
                wait_for(
                    lambda: processes.group_ended(self.process),
                    20,
                    "every process of make run to end",
                )
            finally:
                processes.signal_group(self.process, signal.SIGKILL)


def printed_key(output: str) -> tuple[str, str]:
    key = re.search(r"^ACCESS_KEY_ID=(\S+)$", output, re.M).group(1)
    secret = re.search(r"^SECRET_ACCESS_KEY=(\S+)$", output, re.M).group(1)
    return key, secret


@pytest.fixture
def postgres_and_redis():
    """A database of its own on the test run's PostgreSQL, and a private Redis."""
    base = settings.DATABASES["default"]
    if connection.vendor != "postgresql":  # the ENGINE is datatalks.postgres
        pytest.skip("the test run has no PostgreSQL (scripts/services.sh fell back)")
    name = f"{base['NAME']}_make_run_{uuid.uuid4().hex[:6]}"
    admin = f"postgresql://{base['USER']}@{base['HOST']}:{base['PORT']}/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    redis = PrivateRedis().start()
    try:
        yield {
            "DATABASE_URL": f"postgres://{base['USER']}@{base['HOST']}:{base['PORT']}/{name}",
            "REDIS_URL": redis.url,
        }
    finally:
        redis.stop()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def check_make_run(run: MakeRun) -> None:
    command = run.printed_curl()
    assert f"{run.url}/v2/profiles" in command
    answers = [run_curl(command) for _ in range(3)]
    assert [status for status, _ in answers] == [200, 200, 200], answers
    assert len({body["datatalksId"] for _, body in answers}) == 1

    # Each category twice with one key: stored once, the same Datatalks ID each time.
    session = signed_session(*printed_key(run.output()))
    ids = {}
    for path, body in examples.BY_PATH.items():
        first, again = (
            session.post(f"{run.url}/v2/{path}", json=body, timeout=30)
            for _ in range(2)
        )
        assert (first.status_code, again.status_code) == (200, 200), again.text
        assert first.json()["datatalksId"] == again.json()["datatalksId"]
        ids[path] = first.json()["datatalksId"]

    delivered = wait_for(
        lambda: _delivered(run.sandbox_state()), 90, "the sandbox to receive all three"
    )
    contact, events, product = delivered
    assert contact["email"] == examples.PROFILE["data"]["email"]
    assert [e["externalId"] for e in events] == [examples.EVENT["data"]["event_id"]]
    assert product["productId"] == examples.INVENTORY["data"]["item_id"]
    output = run.output()
    assert " 500 " not in output and "Traceback" not in output, output[-3000:]


def _delivered(state: dict):
    contacts = [c for c in state["contacts"] if c.get("externalId") == "12345"]
    events = state["events"]
    products = state["products"]
    if contacts and events and products:
        return contacts[0], events, products[0]
    return None


def test_make_run_on_the_embedded_default_serves_every_request(tmp_path):
    run = MakeRun(tmp_path)
    try:
        run.start()
        check_make_run(run)
    finally:
        run.stop()
    # Everything it made is in its var/: the SQLite file and the broker's folders,
    # its exchange tables (control/) among them.
    var = tmp_path / "var"
    assert {"datatalks.sqlite3", "broker"} <= {p.name for p in var.iterdir()}
    assert (var / "broker" / "control" / "celery.exchange").is_file()
    assert run.output().count(KEY_WARNING) == 1


def test_make_run_on_postgresql_and_redis_serves_every_request(
    tmp_path, postgres_and_redis
):
    run = MakeRun(tmp_path, **postgres_and_redis)
    try:
        run.start()
        check_make_run(run)
    finally:
        run.stop()
