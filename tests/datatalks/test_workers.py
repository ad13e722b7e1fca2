"""gunicorn's worker (datatalks/workers.py): a process whose threads are all busy leaves
new connections to the others."""

import socket
import time

import pytest

from tests.harness import processes
from tests.harness.faults import server_env, shared_test_database_url

THREADS = 2
SLOW = 3  # slow clients: with 2 workers of 2 threads, one thread stays free
HOLD = 4.0  # seconds each holds its thread, sending its body late


@pytest.mark.django_db(transaction=True)
def test_a_new_client_goes_to_the_process_with_a_free_thread(tmp_path):
    """Three slow clients hold three of the four threads (2 workers x 2); a fourth
    client is answered at once by the process with the free one. The stock gthread
    worker accepts while it has room for 1,000 connections, so the fourth could wait
    behind a process whose threads were all held."""
    env = server_env(shared_test_database_url(), "")
    port = processes.free_port()
    # The worker class comes from gunicorn.conf.py, as in production.
    server = processes.start(
        processes.gunicorn_command(port, workers=2, threads=THREADS),
        log=tmp_path / "gunicorn.log",
        env=env,
    )
    url = processes.loopback_url(port)
    slow = []
    try:
        processes.wait_for(lambda: processes.answers(url + "/healthz"), 30, "gunicorn")
        for _ in range(SLOW):
            client = socket.create_connection(("127.0.0.1", port))
            client.sendall(
                b"POST /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n"
            )
            slow.append(client)
            time.sleep(0.2)  # each is accepted and its thread waits for the body
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", port)) as fast:
            fast.settimeout(HOLD * 2)
            fast.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            answer = fast.recv(65536)
        waited = time.monotonic() - started
        for client in slow:
            client.sendall(b"{}")
    finally:
        for client in slow:
            client.close()
        processes.stop(server)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert waited < HOLD / 2, f"the fourth client waited {waited:.1f} s"
