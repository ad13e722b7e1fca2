"""A local Salesmanago for development and tests (reference §10), on the standard library.

``SandboxServer`` serves API v2 under ``/api/...`` and API v3 under ``/v3/...`` on one
port, keeps everything in memory, and offers a control API for tests and for other
processes (a Celery worker):

- ``GET /_sandbox/state[?clientId=...]``: contacts, events, products, catalogs, calls per
  path, items received, every event item's externalId, the last requests (no credentials);
- ``POST /_sandbox/reset``: forget all data and pending faults;
- ``POST /_sandbox/faults`` ``{"kind", "count", "retry_after", "delay", "message",
  "paths", "process"}``: the next ``count`` matching calls fail that way (kinds: 500,
  503, 429, timeout, non_json, empty, success_false, disconnect); ``GET`` lists those
  pending,
  ``DELETE`` drops them (Salesmanago is back);
- ``POST /_sandbox/accounts`` ``{"clientId", "apiSecret", "owners", "v3ApiKey",
  "catalogs"}``: add or replace an account.
"""

import json
import logging
import threading
import time
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from .contacts import CONTACT_ROUTES
from .core import (
    Options,
    Reply,
    SandboxAccount,
    Store,
    demo_account,
    json_reply,
)
from .events import EVENT_ROUTES
from .v2 import handle_v2
from .v3 import handle_v3

logger = logging.getLogger(__name__)

V2_ROUTES = {**CONTACT_ROUTES, **EVENT_ROUTES}
FAULT_KINDS = frozenset(
    {
        "500",
        "503",
        "429",
        "timeout",
        "non_json",
        "empty",
        "success_false",
        "disconnect",
    }
)
CONTROL_PREFIX = "/_sandbox/"
_HTML_ERROR = "<html><body><h1>{status} {reason}</h1></body></html>"


@dataclass
class Fault:
    """The next ``remaining`` calls whose path starts with one of ``paths`` fail."""

    kind: str
    remaining: int = 1
    retry_after: float | None = None
    delay: float = 30.0
    message: str = "Not authenticated"
    paths: tuple[str, ...] = ()
    # For "timeout": handle the request, then answer too late (the ambiguous case).
    process: bool = False

    @classmethod
    def from_json(cls, data: Any) -> "Fault":
        """A fault from the control API's JSON; ValueError names what is wrong."""
        if not isinstance(data, dict) or data.get("kind") not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {sorted(FAULT_KINDS)}")
        count = data.get("count", 1)
        if not isinstance(count, int) or count < 1:
            raise ValueError("count must be a positive integer")
        retry_after = data.get("retry_after")
        if retry_after is not None and not isinstance(retry_after, int | float):
            raise ValueError("retry_after must be a number of seconds")
        paths = data.get("paths") or []
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise ValueError("paths must be a list of path prefixes")
        return cls(
            kind=data["kind"],
            remaining=count,
            retry_after=retry_after,
            delay=float(data.get("delay", 30.0)),
            message=str(data.get("message", "Not authenticated")),
            paths=tuple(paths),
            process=bool(data.get("process", False)),
        )

    @property
    def answers_late(self) -> bool:
        """A timeout that lets the request through and only delays its answer."""
        return self.kind == "timeout" and self.process

    def matches(self, path: str) -> bool:
        """Whether this fault applies to a call of ``path``."""
        return not self.paths or any(path.startswith(p) for p in self.paths)

    def reply(self, path: str) -> Reply:
        """The failing answer."""
        headers = {}
        if self.retry_after is not None:
            headers["Retry-After"] = f"{self.retry_after:g}"
        if self.kind in ("500", "503"):
            return _html(int(self.kind), headers)
        if self.kind == "429":
            body = {"success": False, "message": ["Too many requests"]}
            return json_reply(429, body, headers=headers)
        if self.kind == "timeout":
            return _html(504, {}, delay=self.delay)
        if self.kind == "non_json":
            return _html(200, {})
        if self.kind == "empty":  # how some servers answer a contact delete (§4)
            return Reply(200, b"")
        if self.kind == "disconnect":
            return Reply(0, b"", disconnect=True)
        if path.startswith("/v3/"):
            return json_reply(400, {"messages": [self.message], "reasonCode": 10})
        return json_reply(200, {"success": False, "message": [self.message]})


def _html(status: int, headers: dict, delay: float = 0.0) -> Reply:
    reason = BaseHTTPRequestHandler.responses.get(status, ("Error",))[0]
    text = _HTML_ERROR.format(status=status, reason=reason)
    return Reply(status, text.encode(), "text/html", headers, delay=delay)


class Sandbox:
    """The sandbox without HTTP: accounts, store, faults and routing, under one lock."""

    def __init__(
        self,
        accounts: list[SandboxAccount] | None = None,
        options: Options | None = None,
    ):
        self.options = options or Options()
        self.store = Store(list(accounts or [demo_account()]))
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        # Answers held back by timeout faults wait on this; reset and stop set it.
        self._wake = threading.Event()

    def handle(
        self, method: str, path: str, query: str, headers: dict[str, str], raw: bytes
    ) -> Reply:
        """Answers one request; ``headers`` has lower-cased names."""
        if path.startswith(CONTROL_PREFIX):
            return self._control(method, path, query, raw)
        with self._lock:
            self.store.calls[path] += 1
            fault = self._take_fault(path)
            if fault is not None and not fault.answers_late:
                reply = fault.reply(path)
            else:
                reply = self._route(method, path, headers, raw)
                reply.delay = fault.delay if fault is not None else 0.0
            reply.wake = self._wake
        return reply

    def _route(self, method: str, path: str, headers: dict, raw: bytes) -> Reply:
        if path.startswith("/api/"):
            return handle_v2(self.store, self.options, V2_ROUTES, method, path, raw)
        if path.startswith("/v3/"):
            return handle_v3(self.store, self.options, method, path, headers, raw)
        return json_reply(404, {"error": f"Unknown path {path}"})

    def _take_fault(self, path: str) -> Fault | None:
        for fault in self._faults:
            if fault.matches(path):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    # -- control -----------------------------------------------------------------------

    def state(self, client_id: str | None = None) -> dict:
        """Everything stored and counted, optionally for one account only."""
        with self._lock:
            return self.store.snapshot(client_id)

    def reset(self) -> None:
        """Forgets all data, counters and pending faults; accounts stay."""
        with self._lock:
            self.store.clear()
            self._faults.clear()
        self.wake_delayed()

    def wake_delayed(self) -> None:
        """Ends every timeout fault's wait; those late answers are dropped."""
        with self._lock:
            self._wake.set()
            self._wake = threading.Event()

    def fail_next(self, kind: str, count: int = 1, **options: Any) -> None:
        """Makes the next ``count`` calls (matching ``paths``) fail as ``kind``."""
        self._add_fault(Fault.from_json({"kind": kind, "count": count, **options}))

    def _add_fault(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        """Drops every pending fault; the data stays."""
        with self._lock:
            self._faults.clear()

    def faults(self) -> list[dict]:
        """The faults still pending."""
        with self._lock:
            return [asdict(f) for f in self._faults]

    def add_account(self, account: SandboxAccount) -> None:
        """Adds or replaces an account (and creates its catalogs)."""
        with self._lock:
            self.store.add_account(account)

    def _control(self, method: str, path: str, query: str, raw: bytes) -> Reply:
        name = path.removeprefix(CONTROL_PREFIX)
        try:
            if (method, name) == ("GET", "state"):
                client_id = parse_qs(query).get("clientId", [None])[0]
                return json_reply(200, self.state(client_id))
            if (method, name) == ("POST", "reset"):
                self.reset()
                return json_reply(200, {"ok": True})
            if (method, name) == ("POST", "faults"):
                self._add_fault(Fault.from_json(_json_object(raw)))
                return json_reply(200, {"ok": True, "faults": self.faults()})
            if (method, name) == ("GET", "faults"):
                return json_reply(200, {"faults": self.faults()})
            if (method, name) == ("DELETE", "faults"):
                self.clear_faults()
                return json_reply(200, {"ok": True})
            if (method, name) == ("POST", "accounts"):
                self.add_account(SandboxAccount.from_json(_json_object(raw)))
                return json_reply(200, {"ok": True})
        except (ValueError, TypeError) as exc:
            return json_reply(400, {"error": str(exc)})
        return json_reply(404, {"error": f"Unknown control endpoint {method} {path}"})


def _json_object(raw: bytes) -> dict:
    data = json.loads(raw or b"{}")
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


class _Handler(BaseHTTPRequestHandler):
    """Adapts HTTP to Sandbox.handle and logs one line per call."""

    server: "_Server"
    protocol_version = "HTTP/1.1"
    server_version = "SalesmanagoSandbox/1.0"
    # An answer goes out as two writes (headers, body): with Nagle's algorithm and the
    # client's delayed ACK, each answer on a kept-alive connection waited ~40 ms.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        started = time.monotonic()
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path, _, query = self.path.partition("?")
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            reply = self.server.sandbox.handle(self.command, path, query, headers, raw)
        except Exception:  # a sandbox bug must show as a 500, not a dropped connection
            logger.exception("Sandbox failed on %s %s", self.command, path)
            reply = _html(500, {})
        # Woken early (reset or stop): the test is over, so the late answer is dropped.
        dropped = bool(reply.delay and reply.wake and reply.wake.wait(reply.delay))
        # Logged before writing, so the line belongs to the call that caused it.
        self._log(path, reply, started, dropped)
        if not dropped:
            self._write(reply)

    def _log(self, path: str, reply: Reply, started: float, dropped: bool) -> None:
        elapsed = (time.monotonic() - started) * 1000
        level = logging.DEBUG if path.startswith(CONTROL_PREFIX) else logging.INFO
        status = reply.status
        if reply.disconnect or dropped:
            status = "disconnected" if reply.disconnect else "dropped (reset)"
        client = f" clientId={reply.client_id}" if reply.client_id else ""
        message = "%s %s -> %s in %.1f ms%s"
        logger.log(level, message, self.command, path, status, elapsed, client)

    def _write(self, reply: Reply) -> None:
        if reply.disconnect:
            self.close_connection = True
            return
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (a timeout fault does exactly this).
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        """Silences http.server's own stderr lines; _serve logs instead."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # The listen backlog: socketserver's 5 dropped the connections of a sender that
    # opens tens at once (its events go many calls at once), and each dropped one
    # waited a second for its SYN to be sent again. A real server's is in hundreds.
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], sandbox: Sandbox):
        super().__init__(address, _Handler)
        self.sandbox = sandbox


class SandboxServer:
    """The sandbox over HTTP: ``start()`` in a background thread, or ``serve_forever()``."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        accounts: list[SandboxAccount] | None = None,
        options: Options | None = None,
    ):
        self.sandbox = Sandbox(accounts, options)
        self._httpd = _Server((host, port), self.sandbox)
        self._thread: threading.Thread | None = None
        self._serving = False

    @property
    def url(self) -> str:
        """The base URL for both API generations, e.g. ``http://127.0.0.1:8765``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "SandboxServer":
        """Serves in a daemon thread; returns self."""
        self._serving = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="salesmanago-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serves in the calling thread until stop() or KeyboardInterrupt."""
        self._serving = True
        self._httpd.serve_forever()

    def stop(self) -> None:
        """Stops serving and closes the socket."""
        self.sandbox.wake_delayed()
        if self._serving:
            self._httpd.shutdown()
            self._serving = False
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "SandboxServer":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def state(self, client_id: str | None = None) -> dict:
        """See Sandbox.state."""
        return self.sandbox.state(client_id)

    def reset(self) -> None:
        """See Sandbox.reset."""
        self.sandbox.reset()

    def fail_next(self, kind: str, count: int = 1, **options: Any) -> None:
        """See Sandbox.fail_next; options: retry_after, delay, message, paths, process."""
        self.sandbox.fail_next(kind, count, **options)

    def clear_faults(self) -> None:
        """See Sandbox.clear_faults."""
        self.sandbox.clear_faults()

    def add_account(self, account: SandboxAccount) -> None:
        """See Sandbox.add_account."""
        self.sandbox.add_account(account)
