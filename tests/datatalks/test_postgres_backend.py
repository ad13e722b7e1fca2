"""The PostgreSQL backend's health check: a connection the server ended is replaced
before a request uses it, without a round trip on a healthy one."""

import os
import signal
import threading
import time

import psycopg
import pytest
from django.db import close_old_connections, connection


def terminate(pid: int) -> None:
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"],
        port=db["PORT"],
        user=db["USER"],
        dbname=db["NAME"],
        autocommit=True,
    ) as other:
        # pg_terminate_backend only signals it: wait until it is gone.
        other.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])


@pytest.mark.django_db(transaction=True)
def test_a_connection_the_server_ended_is_replaced_before_the_next_request(settings):
    connection.ensure_connection()
    assert connection.is_usable()
    first = connection.connection.info.backend_pid
    terminate(first)
    close_old_connections()  # what Django does when a request starts
    with connection.cursor() as cursor:  # the request's first query
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != first


@pytest.mark.django_db(transaction=True)
def test_a_healthy_connection_is_checked_without_a_round_trip():
    """With its backend process stopped, a SELECT 1 would wait until the backend runs
    again (2 s later, here): the check answers at once, looking only at the socket."""
    connection.ensure_connection()
    backend = connection.connection.info.backend_pid
    assert backend > 0
    os.kill(backend, signal.SIGSTOP)
    resume = threading.Timer(2.0, os.kill, (backend, signal.SIGCONT))
    resume.start()
    try:
        started = time.monotonic()
        assert connection.is_usable()
        assert time.monotonic() - started < 1.0
    finally:
        resume.cancel()
        os.kill(backend, signal.SIGCONT)


@pytest.fixture
def many_files_open():
    """More than 1,024 descriptors open in this process, as in a gthread worker with
    many kept-alive clients (up to worker_connections, 1,000, each a socket)."""
    opened = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    yield
    for fd in opened:
        os.close(fd)


@pytest.mark.django_db(transaction=True)
def test_a_connection_with_a_descriptor_past_1024_is_kept(many_files_open):
    """select() takes no descriptor past 1,023: the check must not call a healthy
    connection ended there (it would then reconnect before every request)."""
    connection.close()
    connection.ensure_connection()
    assert connection.connection.fileno() > 1024
    assert connection.is_usable()
