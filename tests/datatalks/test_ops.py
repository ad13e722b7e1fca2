"""/healthz and /readyz under gunicorn with a PostgreSQL and a Redis of the test's own,
stopped and started again; a worker's heartbeat file follows its broker connection."""

import time
import uuid

import pytest
import requests

from tests.harness.delivery import Worker
from tests.harness.faults import Gunicorn, manage, server_env
from tests.harness.processes import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def api(private_postgres, private_redis, tmp_path):
    env = server_env(
        private_postgres.url,
        private_redis.url,
        DATATALKS_READY_TIMEOUT_SECONDS="1",
        DATATALKS_RATE_LIMIT_PER_MINUTE="1",
    )
    manage(env, "migrate", "--no-input")
    server = Gunicorn(env, tmp_path / "gunicorn.log").start()
    yield server
    server.stop()


def get(api, path: str) -> requests.Response:
    return requests.get(api.url + path, timeout=10)


def test_ready_when_postgres_and_the_broker_answer(api, private_postgres):
    for _ in range(5):  # more than the rate limit of 1 a minute: never throttled
        ready = get(api, "/readyz")
        assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["success"] is True
    assert body["checks"] == {"postgresql": "ok", "broker": "ok"}
    assert uuid.UUID(body["requestId"]).version == 4
    assert get(api, "/healthz").json()["success"] is True
    # Probes are not API requests: the request log has none of them.
    assert private_postgres.query("SELECT count(*) FROM ingestion_requestlog") == [(0,)]


def test_not_ready_while_postgres_is_down_and_ready_again_after(api, private_postgres):
    private_postgres.stop("fast")
    started = time.monotonic()
    down = get(api, "/readyz")
    assert time.monotonic() - started < 5
    assert down.status_code == 503
    assert down.json()["checks"] == {"postgresql": "unavailable", "broker": "ok"}
    assert down.json()["messages"] == ["postgresql is unavailable"]
    # Liveness touches nothing: the process is up.
    assert get(api, "/healthz").status_code == 200
    private_postgres.start()
    assert get(api, "/readyz").status_code == 200


def test_not_ready_while_the_broker_is_down(api, private_redis):
    private_redis.stop()
    down = get(api, "/readyz")
    assert down.status_code == 503
    assert down.json()["checks"] == {"postgresql": "ok", "broker": "unavailable"}
    private_redis.start()
    wait_for(lambda: get(api, "/readyz").status_code == 200, 10, "ready again")


def test_a_workers_heartbeat_file_follows_its_broker_connection(
    private_redis, tmp_path
):
    heartbeat = tmp_path / "worker.heartbeat"
    worker = Worker(
        private_redis.url,
        tmp_path / "worker.log",
        DATATALKS_WORKER_HEARTBEAT_FILE=str(heartbeat),
        DATATALKS_WORKER_HEARTBEAT_SECONDS="1",
    ).start()
    try:
        wait_for(heartbeat.exists, 60, "the worker's heartbeat file")
        first = heartbeat.stat().st_mtime
        wait_for(lambda: heartbeat.stat().st_mtime > first, 10, "a fresh heartbeat")
        private_redis.stop()
        wait_for(lambda: not heartbeat.exists(), 30, "the heartbeat to stop")
        private_redis.start()
        wait_for(heartbeat.exists, 60, "the heartbeat to come back")
    finally:
        worker.stop()
    assert not heartbeat.exists(), "a stopped worker leaves no heartbeat"
