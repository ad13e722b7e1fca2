"""A flood of requests without a valid key, over HTTP to gunicorn: each is refused as
usual, but the request log takes only its per-minute budget of rows from them."""

import threading

import pytest
import requests

from ingestion.models import RequestLog
from tests.harness.delivery import PrivateRedis
from tests.harness.faults import Gunicorn, server_env, shared_test_database_url

pytestmark = pytest.mark.django_db(transaction=True)

BUDGET = 20  # rows a minute per web process
FLOOD = 300


def flood(url: str, count: int) -> list[int]:
    statuses: list[int] = []
    with requests.Session() as session:
        for _ in range(count):
            statuses.append(
                session.post(url, json={"type": "person"}, timeout=10).status_code
            )
    return statuses


def test_unsigned_requests_write_rows_only_up_to_the_budget(tmp_path):
    redis = PrivateRedis().start()
    env = server_env(
        shared_test_database_url(),
        redis.url,
        DATATALKS_REQUEST_LOG_ANONYMOUS_PER_MINUTE=str(BUDGET),
    )
    api = Gunicorn(env, tmp_path / "gunicorn.log")
    try:
        api.start()
        results: list[list[int]] = [[], []]
        threads = [
            threading.Thread(
                target=lambda i=i: results[i].extend(
                    flood(api.url + "/v3/profiles", FLOOD // 2)
                )
            )
            for i in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    finally:
        api.stop()
        redis.stop()
    assert results[0] + results[1] == [403] * FLOOD
    rows = RequestLog.objects.filter(customer=None, path="/v3/profiles").count()
    # Two workers, and the flood may straddle a minute: at most four budgets.
    assert 1 <= rows <= 4 * BUDGET, rows
