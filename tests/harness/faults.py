"""Real parts for fault and fuzz tests: a private PostgreSQL that can be stopped, the
API under gunicorn in its own process group, a botocore-signed requests client, bounded
load, and the figures a ``make soak`` run reports.

Everything listens on 127.0.0.1 only; every server is the test's own and is removed at
the end, so the machine's shared PostgreSQL and Redis are never touched.
"""

import contextlib
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import requests
from django.db import connection

from . import processes
from .processes import ROOT, free_port, service_env, wait_for
from .signing import signed_session

# Test-only Fernet key and Django key, the same as tests/settings.py sets, so secrets
# written by manage.py commands can be read by the server.
SERVER_SETTINGS = "tests.settings"


def _as_postgres() -> list[str]:
    """The prefix that runs a command as the ``postgres`` OS user (initdb refuses root)."""
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", "postgres", "--"]


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} is not installed")
    return found[-1]


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own in a temporary directory, on a free
    loopback port with trust authentication; ``stop()`` and ``start()`` at will."""

    def __init__(self):
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="datatalks-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/datatalks"
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(
            _pg_bin("initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        )

    def _run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*_as_postgres(), *command],
            capture_output=True,
            text=True,
            check=check,
            timeout=60,
        )

    def start(self) -> "PrivatePostgres":
        # fsync is off (a stop, even "immediate", is a crash of the server, not of the
        # machine: what was written stays in the OS). synchronous_commit stays on, as
        # in production: with it off, a crash loses commits already answered 200.
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
            "-c fsync=off -c full_page_writes=off -c max_connections=50"
        )
        self._run(
            _pg_bin("pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "-t",
            "30",
            "start",
        )
        return self

    def create_database(self) -> "PrivatePostgres":
        with psycopg.connect(
            f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True
        ) as conn:
            conn.execute("CREATE DATABASE datatalks")
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stops the server; ``immediate`` is a crash (no shutdown checkpoint)."""
        self._run(
            _pg_bin("pg_ctl"),
            "-D",
            str(self.data),
            "-m",
            mode,
            "-w",
            "-t",
            "30",
            "stop",
            check=False,
        )

    def is_up(self) -> bool:
        try:
            with psycopg.connect(self.dsn(), connect_timeout=1) as conn:
                return conn.execute("SELECT 1").fetchone() == (1,)
        except psycopg.OperationalError:
            return False

    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/datatalks"

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(self.dsn(), connect_timeout=5) as conn:
            return conn.execute(sql, params).fetchall()

    def remove(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def shared_test_database_url() -> str:
    """The URL of the database the test runs in, for servers of the test's own."""
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def server_env(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """The environment of a server or manage.py command of the test's own."""
    return service_env(
        settings=SERVER_SETTINGS,
        database_url=database_url,
        redis_url=redis_url,
        DJANGO_LOG_LEVEL="WARNING",
        **extra,
    )


def manage(env: dict[str, str], *args: str) -> str:
    """Runs ``manage.py`` with ``env``; returns its standard output."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode:
        raise AssertionError(f"manage.py {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def api_key_in(env: dict[str, str]) -> tuple[str, str]:
    """A new production key of the demo customer in ``env``'s database."""
    lines = manage(env, "create_api_key", "demo").splitlines()
    values = dict(line.split("=", 1) for line in lines if "=" in line)
    return values["ACCESS_KEY_ID"], values["SECRET_ACCESS_KEY"]


class Gunicorn:
    """The API under gunicorn (the production server), in its own process group."""

    def __init__(
        self,
        env: dict[str, str],
        log_path: Path,
        workers: int = 2,
        extra_args: tuple[str, ...] = (),
    ):
        self.env = env
        self.extra_args = extra_args
        self.log_path = log_path
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None

    def start(self) -> "Gunicorn":
        command = processes.gunicorn_command(
            self.port,
            *self.extra_args,
            workers=self.workers,
            timeout=60,
            graceful_timeout=5,
        )
        self.process = processes.start(command, log=self.log_path, env=self.env)
        wait_for(self._answers, 30, "gunicorn to start")
        return self

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"gunicorn exited: {self.log_text()[-2000:]}")
        return processes.answers(self.url + "/api/schema/")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process:
            processes.stop(self.process, timeout=15)


@dataclass
class Outcome:
    """One request of a load: when it was sent, how long it took, what came back."""

    index: int
    started: float
    seconds: float
    status: int | None
    body: dict | None = None
    error: str = ""


@dataclass
class Load:
    """Sends ``make_body(i)`` to ``url`` from ``threads`` threads, ``count`` requests
    in all, and stops by itself after ``max_seconds`` whatever is left."""

    url: str
    key: str
    secret: str
    make_body: object
    count: int
    threads: int = 4
    max_seconds: float = 120.0
    pause: float = 0.0
    outcomes: list[Outcome] = field(default_factory=list)

    def run(self) -> list[Outcome]:
        self._next = iter(range(self.count))
        self._lock = threading.Lock()
        self._deadline = time.monotonic() + self.max_seconds
        workers = [threading.Thread(target=self._work) for _ in range(self.threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(self.max_seconds + 60)
        return sorted(self.outcomes, key=lambda o: o.index)

    def start(self) -> threading.Thread:
        """Runs in the background; join the returned thread, then read outcomes."""
        thread = threading.Thread(target=self.run)
        thread.start()
        return thread

    def _take(self) -> int | None:
        with self._lock:
            if time.monotonic() > self._deadline:
                return None
            return next(self._next, None)

    def _work(self) -> None:
        session = signed_session(self.key, self.secret)
        while (index := self._take()) is not None:
            outcome = send(session, self.url, self.make_body(index), index)
            with self._lock:
                self.outcomes.append(outcome)
            if self.pause:
                time.sleep(self.pause)


def send(session: requests.Session, url: str, body: dict, index: int = 0) -> Outcome:
    """POSTs ``body`` as JSON; a connection failure is an outcome, not an exception."""
    started = time.monotonic()
    try:
        response = session.post(url, json=body, timeout=30)
    except requests.RequestException as exc:
        return Outcome(index, started, time.monotonic() - started, None, None, str(exc))
    try:
        parsed = response.json()
    except ValueError:
        parsed = None
    return Outcome(
        index,
        started,
        time.monotonic() - started,
        response.status_code,
        parsed,
        "" if parsed is not None else response.text[:300],
    )


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values`` (0 for none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


def record_figures(test: str, **figures) -> None:
    """Appends one JSON line of ``figures`` to $DATATALKS_SOAK_RESULTS, when it is set
    (``make soak`` sets it; scripts/soak_report.py prints the table)."""
    path = os.environ.get("DATATALKS_SOAK_RESULTS")
    if not path:
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as out:
        out.write(json.dumps({"test": test, **figures}) + "\n")


class ReadinessProbe:
    """Polls ``/readyz`` every ``interval`` seconds in a thread, as a load balancer
    does, and keeps (time, status) of each answer; ``stop()`` ends it."""

    def __init__(self, url: str, interval: float = 0.25):
        self.url = url + "/readyz"
        self.interval = interval
        self.answers: list[tuple[float, int | None]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll)

    def start(self) -> "ReadinessProbe":
        self._thread.start()
        return self

    def _poll(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                status = requests.get(self.url, timeout=5).status_code
            except requests.RequestException:
                status = None
            self.answers.append((time.monotonic(), status))

    def stop(self) -> list[tuple[float, int | None]]:
        self._stop.set()
        self._thread.join(30)
        return self.answers


def json_log_lines(text: str) -> list[dict]:
    """The JSON log lines in a server's output (gunicorn's own lines are text)."""
    lines = []
    for line in text.splitlines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                lines.append(json.loads(line))
    return lines
