"""Group commit, over signed HTTP to gunicorn with threads (ingestion/grouping.py): the
single ingests a process serves at once are written by one statement, each answered
with its own Datatalks ID and logged by its own row; a Hard-ID is never written twice
by one statement; a request the database refuses fails itself, not its group; a group
whose connection is lost mid-statement is written again, alone, on a new one.

A request that finds no write of its customer in flight is written at once; those
that arrive while one is in flight queue, and the first of them waits GROUP_WAIT_MS for
more, then writes them all. The tests make a write last (``scope_busy``: the test holds
the lock of the row it changes) while the requests they send together arrive. A
statement runs in a transaction of its own (autocommit), so the rows it wrote carry
one transaction id (xmin).
"""

import contextlib
import copy
import threading
import time

import psycopg
import pytest
from django.db import connection, transaction

from ingestion import examples
from ingestion.credentials import credential_create
from ingestion.models import DataPoint, RequestLog
from tests.harness.faults import Gunicorn, server_env, shared_test_database_url
from tests.harness.signing import signed_session

pytestmark = pytest.mark.django_db(transaction=True)
GROUP_WAIT_MS = 400
THREADS = 8


@pytest.fixture
def api(tmp_path, demo):
    env = server_env(
        shared_test_database_url(),
        "",  # no Redis: no rate limit, no delivery wake (the outbox rows stay)
        DATATALKS_GROUP_COMMIT_WAIT_US=str(GROUP_WAIT_MS * 1000),
    )
    args = ("--worker-class", "gthread", "--threads", str(THREADS))
    server = Gunicorn(env, tmp_path / "gunicorn.log", workers=1, extra_args=args)
    server.start()
    credential, secret = credential_create(customer=demo)
    server.session = signed_session(credential.access_key_id, secret)
    yield server
    server.stop()


def profile(customer_id: int, **data) -> dict:
    body = copy.deepcopy(examples.PROFILE)
    body["data"].update(
        customer_id=customer_id, email=f"p{customer_id}@example.com", **data
    )
    return body


def post(api, body: dict) -> dict:
    response = api.session.post(api.url + "/v3/profiles", json=body, timeout=30)
    return {"status": response.status_code, **response.json()}


def post_together(api, bodies: list[dict], then=None) -> list[dict]:
    """Posts every body at once, each from its own thread, while the server writes
    another request of the customer; the answers, in order. ``then()`` runs
    once that write is let go, before the answers are awaited."""
    answers: list = [None] * len(bodies)

    def send(i: int) -> None:
        answers[i] = post(api, bodies[i])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    with scope_busy(api):
        for thread in threads:
            thread.start()
        time.sleep(1.0)  # they reach the server's queue (the release would not wait)
    if then is not None:
        then()
    for thread in threads:
        thread.join(60)
    return answers


@contextlib.contextmanager
def scope_busy(api):
    """A write of the demo customer's that lasts: the server changes a data point
    whose row this test holds locked until the block ends."""
    stored = post(api, profile(999))
    assert stored["status"] == 200, stored
    answer = []
    changing = threading.Thread(
        target=lambda: answer.append(post(api, profile(999, city="Busy")))
    )
    with transaction.atomic():
        DataPoint.objects.select_for_update().get(pk=stored["datatalksId"])
        changing.start()
        wait_for_a_lock_wait(answer)
        yield
    changing.join(60)
    assert answer[0]["status"] == 200, answer


def wait_for_a_lock_wait(answer: list, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline and not answer:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)
    raise TimeoutError(f"the server's write never waited for the lock: {answer}")


def transactions(table: str, column: str, values: list) -> dict:
    """The transaction id that wrote each row, by ``column``'s value (as text)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column}::text, xmin::text FROM {table} "  # noqa: S608 (names)
            f"WHERE {column} = ANY(%s)",
            [values],
        )
        return dict(cursor.fetchall())


def logged(answers: list[dict]) -> dict:
    """The request-log row of each answer, and the transaction that wrote it."""
    ids = [a["requestId"] for a in answers]
    rows = {str(r.request_id): r for r in RequestLog.objects.filter(request_id__in=ids)}
    written_by = transactions(RequestLog._meta.db_table, "request_id", ids)
    for request_id, row in rows.items():
        row.written_by = written_by[request_id]
    return rows


def test_concurrent_requests_are_written_by_one_statement_each_answered(api):
    stored = post(api, profile(1))
    assert stored["status"] == 200
    # five new profiles and an identical re-send of the stored one, at once
    bodies = [profile(n) for n in range(2, 7)] + [profile(1)]
    answers = post_together(api, bodies)
    assert [a["status"] for a in answers] == [200] * 6
    resent = answers[-1]
    assert resent["datatalksId"] == stored["datatalksId"]
    assert len({a["datatalksId"] for a in answers}) == 6
    rows = logged(answers)
    for answer in answers:
        row = rows[answer["requestId"]]
        assert (str(row.datatalks_id), row.status_code) == (answer["datatalksId"], 200)
        assert row.changed is (answer is not resent)
        assert row.duration_ms > 0
    # one statement wrote the five data points and the six log rows
    points = transactions(
        DataPoint._meta.db_table, "id", [a["datatalksId"] for a in answers[:5]]
    )
    assert {row.written_by for row in rows.values()} | set(points.values()) == {
        rows[resent["requestId"]].written_by
    }
    assert DataPoint.objects.get(pk=resent["datatalksId"]).revision == 1


def test_requests_for_one_hard_id_are_written_one_after_the_other(api):
    bodies = [profile(7, city="A"), profile(7, city="A"), profile(8)]
    answers = post_together(api, bodies)
    assert [a["status"] for a in answers] == [200] * 3
    assert answers[0]["datatalksId"] == answers[1]["datatalksId"]
    rows = logged(answers)
    first, second = (rows[a["requestId"]] for a in answers[:2])
    # two statements: the first written inserted it, the second found it identical
    assert first.written_by != second.written_by
    assert sorted([first.changed, second.changed]) == [False, True]
    # the other request went with one of them
    assert rows[answers[2]["requestId"]].written_by in {
        first.written_by,
        second.written_by,
    }
    point = DataPoint.objects.get(pk=answers[0]["datatalksId"])
    assert (point.revision, point.data["city"]) == (1, "A")


@pytest.fixture
def refused_hard_id():
    """The database refuses one Hard-ID (a fault of the test's own: a CHECK)."""
    table = DataPoint._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT test_refused CHECK (hard_id <> '13')"
        )
    yield "13"
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT test_refused")


def test_a_request_the_database_refuses_fails_itself_not_its_group(
    api, refused_hard_id
):
    bodies = [profile(10), profile(11), profile(int(refused_hard_id)), profile(12)]
    answers = post_together(api, bodies)
    assert [a["status"] for a in answers] == [200, 200, 500, 200]
    assert answers[2]["success"] is False
    good = [a for i, a in enumerate(answers) if i != 2]
    assert (
        DataPoint.objects.filter(pk__in=[a["datatalksId"] for a in good]).count() == 3
    )
    assert not DataPoint.objects.filter(hard_id=refused_hard_id).exists()
    rows = logged(answers)
    assert [rows[a["requestId"]].status_code for a in answers] == [200, 200, 500, 200]
    assert all(rows[a["requestId"]].changed for a in good)
    assert "a group of 4 writes failed (IntegrityError)" in api.log_text()


def test_a_group_whose_connection_is_lost_is_written_again_on_a_new_one(api):
    """The thread that writes a group loses its connection mid-statement (the
    server ended it: a restart, a failover, a terminated backend): the statement
    was rolled back, and each request is written again alone, on a connection of
    its own thread's that works, not refused with the lost one."""
    held = post(api, profile(20))
    assert held["status"] == 200
    bodies = [profile(20, city="Lost"), profile(21), profile(22), profile(23)]
    with psycopg_connection() as locking:
        # the group's statement waits on data point 20 until its backend is ended
        locking.execute(
            f"SELECT 1 FROM {DataPoint._meta.db_table} WHERE id = %s FOR UPDATE",  # noqa: S608
            [held["datatalksId"]],
        )

        def end_the_wait() -> None:
            end_the_waiting_backend()
            locking.commit()

        answers = post_together(api, bodies, then=end_the_wait)
    assert [a["status"] for a in answers] == [200] * 4, answers
    assert DataPoint.objects.get(pk=held["datatalksId"]).data["city"] == "Lost"
    rows = logged(answers)
    assert [rows[a["requestId"]].status_code for a in answers] == [200] * 4
    assert "a group of 4 writes failed (OperationalError)" in api.log_text()


def psycopg_connection() -> psycopg.Connection:
    """A connection of the test's own, beside Django's (a lock held apart)."""
    db = connection.settings_dict
    return psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"]
    )


def end_the_waiting_backend() -> None:
    """Ends the server's backend that waits for a lock (pg_terminate_backend)."""
    deadline = time.monotonic() + 30
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchall() == [(True,)]:
                return
            time.sleep(0.02)
    raise TimeoutError("the group's statement never waited for the lock")
