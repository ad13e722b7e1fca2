"""Slow clients against the production setup (deploy/nginx.conf in front of gunicorn
with 2 workers): 200 connections send their headers or their body a byte a second
while normal signed requests run. nginx holds the slow ones; gunicorn sees a request only
once it is complete, so no worker waits and the normal requests stay fast.

Loopback only, about 45 s, every server and connection the test's own.
"""

import socket
import threading
import time
from dataclasses import dataclass

import pytest
import requests

from ingestion.credentials import credential_create
from mappings.demo import demo_load
from tests.harness.faults import percentile, record_figures, send
from tests.harness.proxy import gunicorn_behind_nginx
from tests.harness.signing import signed_session

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SLOW_HEADERS = 100  # headers at 1 byte/s: longer than nginx's 10 s header timeout
SLOW_BODIES = 80  # a 20-byte body at 1 byte/s, then an answer
# The control without nginx: 2 workers x 8 threads (gunicorn.conf.py) is 16 requests
# read at once; 40 slow connections leave no process a free thread however the two
# processes split them (fewer than 8 on one: about 1 in 100,000).
HOLDERS = 40
SHORT_BODIES = 20  # declare 10 bytes more than they send, then fall silent
BODY_BYTES = 20
HEADER_TIMEOUT = (
    10  # client_header_timeout and client_body_timeout in deploy/nginx.conf
)
DEADLINE_SECONDS = 45
P99_BUDGET_SECONDS = 0.050
ACCESS_FORMAT = "%(U)s %(s)s %(L)s"  # path, status, seconds in the worker


@dataclass
class SlowClient:
    """One connection that sends ``pending`` a byte a second and keeps what it gets."""

    kind: str
    sock: socket.socket
    pending: bytes
    opened: float
    closed_after: float | None = None
    received: bytes = b""

    def status(self) -> int | None:
        parts = self.received.split(b" ", 2)
        return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None

    def tick(self, now: float) -> None:
        """Reads what arrived, then sends one more byte; notes when the server closed."""
        try:
            while chunk := self.sock.recv(65536):
                self.received += chunk
            self._close(now)
            return
        except BlockingIOError:
            pass
        except OSError:
            self._close(now)
            return
        if self.pending:
            try:
                self.sock.send(self.pending[:1])
                self.pending = self.pending[1:]
            except BlockingIOError:
                pass
            except OSError:
                self._close(now)

    def _close(self, now: float) -> None:
        self.closed_after = now - self.opened
        self.sock.close()


def slow_client(port: int, kind: str, n: int) -> SlowClient:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    path = f"/slow/{kind}/{n}"
    if kind == "header":
        head = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        pending = head.encode()
    else:
        declared = BODY_BYTES + (10 if kind == "short" else 0)
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {declared}\r\n\r\n".encode()
        )
        pending = b'{"slow": "' + b"x" * (BODY_BYTES - 12) + b'"}'
    sock.setblocking(False)
    return SlowClient(kind, sock, pending, time.monotonic())


def drive(clients: list[SlowClient], deadline: float) -> None:
    """Once a second, each open connection reads and sends a byte, until all are
    closed or the deadline passes (then the rest are closed here)."""
    while time.monotonic() < deadline:
        started = time.monotonic()
        open_clients = [c for c in clients if c.closed_after is None]
        if not open_clients:
            return
        for client in open_clients:
            client.tick(started)
        time.sleep(max(0.0, started + 1 - time.monotonic()))
    for client in clients:
        if client.closed_after is None:
            client.sock.close()


def profile(n: int) -> dict:
    return {
        "type": "person",
        "data": {"customer_id": n, "first_name": "Slow", "last_name": f"Test {n}"},
    }


def normal_requests(session, url: str, first: int, until) -> list:
    outcomes, n = [], first
    while not until():
        outcomes.append(send(session, url, profile(n), n))
        n += 1
        time.sleep(0.05)
    return outcomes


def gunicorn_requests(access_log: str) -> dict[str, list[float]]:
    """Seconds each request spent in a gunicorn worker, by the kind of its path."""
    seen: dict[str, list[float]] = {}
    for line in access_log.splitlines():
        path, _, seconds = line.split(" ")
        kind = path.split("/")[2] if path.startswith("/slow/") else "normal"
        seen.setdefault(kind, []).append(float(seconds))
    return seen


def test_200_slow_clients_leave_normal_requests_fast_and_hold_no_worker(tmp_path):
    access = tmp_path / "access.log"
    args = ("--access-logfile", str(access), "--access-logformat", ACCESS_FORMAT)
    credential, secret = credential_create(customer=demo_load(), description="slow")
    session = signed_session(credential.access_key_id, secret)
    with gunicorn_behind_nginx(tmp_path, *args) as (api, proxy):
        url = proxy.url + "/v3/profiles"
        warm = [send(session, url, profile(n), n) for n in range(1, 101)]
        clients = [slow_client(proxy.port, "header", n) for n in range(SLOW_HEADERS)]
        clients += [slow_client(proxy.port, "body", n) for n in range(SLOW_BODIES)]
        clients += [slow_client(proxy.port, "short", n) for n in range(SHORT_BODIES)]
        slow = threading.Thread(
            target=drive, args=(clients, time.monotonic() + DEADLINE_SECONDS)
        )
        slow.start()
        during = normal_requests(session, url, 1000, lambda: not slow.is_alive())
        slow.join()
        held = gunicorn_without_proxy_is_held(api.url, session)
        seen = gunicorn_requests(access.read_text())
    by_kind = {
        k: [c for c in clients if c.kind == k] for k in ("header", "body", "short")
    }
    latencies = [o.seconds for o in during]
    p99 = percentile(latencies, 0.99)
    record_figures(
        "200 slow clients behind nginx",
        requests=len(warm) + len(during) + len(clients),
        server_errors=sum((o.status or 500) >= 500 for o in during),
        faults=len(clients),
        lost=sum(o.status != 200 for o in during),
        p99_ms=round(p99 * 1000, 1),
        p50_ms=round(percentile(latencies, 0.5) * 1000, 1),
        p99_ms_warm_up=round(percentile([o.seconds for o in warm], 0.99) * 1000, 1),
        slowest_in_gunicorn_s=max(max(v) for v in seen.values()),
        without_nginx_held=held,
    )
    # Every normal request answered while the slow ones were open, fast.
    assert [o.status for o in during] == [200] * len(during), during[:3]
    assert len(during) >= 100
    assert p99 < P99_BUDGET_SECONDS, f"p99 {p99 * 1000:.1f} ms"
    # nginx closed every slow header at its header timeout: gunicorn never saw one.
    for client in by_kind["header"]:
        assert HEADER_TIMEOUT - 1 <= client.closed_after <= HEADER_TIMEOUT + 3, client
    assert "header" not in seen
    # Slow bodies reached gunicorn once complete: answered by the app, each request
    # in a worker for well under a second (not the 20 s the body took to arrive).
    for client in by_kind["body"]:
        assert client.status() == 404 and client.closed_after >= BODY_BYTES - 2, client
    assert len(seen["body"]) == SLOW_BODIES and max(seen["body"]) < 1.0, seen["body"]
    # A body that stops short is dropped by nginx after 10 s of silence, unseen.
    for client in by_kind["short"]:
        assert client.closed_after >= BODY_BYTES + HEADER_TIMEOUT - 2, client
    assert "short" not in seen
    assert max(seen["normal"]) < 1.0
    # The control: without nginx a few dozen such clients hold every thread.
    assert held, f"{HOLDERS} slow clients straight to gunicorn held no worker"


def gunicorn_without_proxy_is_held(api_url: str, session) -> bool:
    """``HOLDERS`` connections send headers at 1 byte/s straight to gunicorn (2
    gthread workers of 8 threads, each thread reading one request); True when a normal
    request then gets no answer within 3 s."""
    port = int(api_url.rsplit(":", 1)[1])
    clients = [slow_client(port, "header", n) for n in range(HOLDERS)]
    slow = threading.Thread(target=drive, args=(clients, time.monotonic() + 6))
    slow.start()
    time.sleep(1.5)
    outcome = send_with_timeout(session, api_url + "/v3/profiles", 3)
    slow.join()
    return outcome is None


def send_with_timeout(session, url: str, seconds: float):
    try:
        return session.post(url, json=profile(999_999), timeout=seconds)
    except requests.RequestException:
        return None
