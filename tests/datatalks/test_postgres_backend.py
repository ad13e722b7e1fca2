"""The PostgreSQL backend's health check: a connection the server ended is replaced
before a request uses it, without a round trip on a healthy one."""

import os
import signal
import socket
import threading
import time

import psycopg
import pytest
from django.db import OperationalError, close_old_connections, connection, connections


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


@pytest.mark.django_db
def test_a_database_host_that_never_answers_is_given_up_on():
    """A host that takes the connection and then says nothing (a vanished or hung
    server): connecting fails after the configured connect_timeout (5 s), not after
    libpq's default of waiting on TCP for minutes."""
    silent = socket.create_server(("127.0.0.1", 0))  # the kernel accepts; no answer
    db = {**connection.settings_dict, "PORT": silent.getsockname()[1]}
    unreachable = type(connections["default"])(db)  # its own, not the test's
    failed = []

    def connect():
        try:
            unreachable.ensure_connection()
        except Exception as exc:  # the assertion says which it was
            failed.append(exc)

    attempt = threading.Thread(target=connect, daemon=True)
    attempt.start()
    attempt.join(timeout=30)
    silent.close()
    assert not attempt.is_alive(), "still connecting after 30 s"
    assert failed and isinstance(failed[0], OperationalError), failed
    assert "timeout" in str(failed[0]).lower(), failed
