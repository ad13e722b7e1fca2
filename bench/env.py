"""What the bench runs against: its own database, Redis DB, sandbox and gunicorn.

Nothing shared is reconfigured: the database ``bench`` is created and dropped here, Redis
DB 7 is the only one flushed, and servers listen on free ports of 127.0.0.1.
"""

import os
import secrets
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from bench.procs import Children, descendants
from tests.harness import processes
from tests.harness.processes import free_port

PG_ADMIN_URL = os.environ.get(
    "BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
PG_HOST_URL = PG_ADMIN_URL.rsplit("/", 1)[0]
DATABASE = "bench"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")


def missing_tools(*, profile: bool) -> list[str]:
    """What the bench needs and cannot find, each with how to get it."""
    problems = []
    if not shutil.which("wrk"):
        problems.append(
            "wrk is not installed: `apt-get install wrk` (Debian/Ubuntu) or "
            "`brew install wrk` (macOS)"
        )
    if profile and not (Path(sys.executable).parent / "py-spy").exists():
        problems.append(
            "py-spy is missing from the venv: `make install` (requirements-dev.txt)"
        )
    if not _listening("127.0.0.1", 5432):
        problems.append(
            "PostgreSQL is not running on 127.0.0.1:5432: `./scripts/services.sh` starts it"
        )
    if not _listening("127.0.0.1", 6379):
        problems.append(
            "Redis is not running on 127.0.0.1:6379: `./scripts/services.sh`"
        )
    return problems


def _listening(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


class BenchEnv:
    """The environment of one run; ``cleanup`` undoes everything ``prepare`` did."""

    def __init__(self, root: Path):
        self.root = root
        self.python = sys.executable
        self.bin = Path(sys.executable).parent
        self.work = root / "var" / "bench"
        self.children = Children()
        self.sandbox_port = free_port()
        self.server = None
        self.server_port = 0
        self.database_created = False
        self.key = self.secret = ""

    # -- setup ---------------------------------------------------------------------------

    def prepare(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)
        self.work.mkdir(parents=True)
        os.environ.update(self._service_environment())
        self._create_database()
        self._flush_redis()
        self.sandbox = self.children.start(
            processes.sandbox_command(self.sandbox_port, python=self.python),
            log=self.work / "sandbox.log",
            cwd=self.root,
        )
        _wait_for_http(
            f"http://127.0.0.1:{self.sandbox_port}/_sandbox/faults",
            process=self.sandbox,
        )
        self._load_service_data()

    def _service_environment(self) -> dict[str, str]:
        from cryptography.fernet import Fernet

        return {
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DATATALKS_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "DATABASE_URL": f"{PG_HOST_URL}/{DATABASE}",
            "REDIS_URL": REDIS_URL,
            "SALESMANAGO_URL": f"http://127.0.0.1:{self.sandbox_port}",
            "SALESMANAGO_ALLOW_LOOPBACK": "true",
            # The bench measures the limiter's cost, not its limit.
            "DATATALKS_RATE_LIMIT_PER_MINUTE": "1000000000",
            # The files phase: uploads in the run's own directory, processed by a
            # worker of the files queue only (bench/files.py).
            "DATATALKS_FILES_DIR": str(self.work / "files"),
            "DATATALKS_FILE_QUEUE": "files",
            "PYTHONPATH": str(self.root),
            # Metrics as production counts them: prometheus-client's multiprocess
            # mode, for the bench's gunicorn and its in-process phases alike.
            "PROMETHEUS_MULTIPROC_DIR": str(self._metrics_dir()),
        }

    def _metrics_dir(self) -> Path:
        folder = self.work / "prometheus"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _create_database(self) -> None:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {DATABASE}")
        self.database_created = True

    def _flush_redis(self) -> None:
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()

    def _load_service_data(self) -> None:
        import django

        django.setup()
        from django.core.management import call_command

        from ingestion.credentials import credential_create
        from mappings.models import Customer

        call_command("migrate", verbosity=0)
        call_command("load_demo", verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
        credential, self.secret = credential_create(
            customer=Customer.objects.get(slug="demo"), description="make bench"
        )
        self.key = credential.access_key_id

    # -- the web server --------------------------------------------------------------------

    def start_server(self, kind: str, workers: int, threads: int) -> str:
        """Starts gunicorn; returns its base URL once it answers."""
        self.stop_server()
        self.server_port = free_port()
        args = processes.gunicorn_command(
            self.server_port,
            workers=workers,
            python=self.python,
            # gthread is gunicorn.conf.py's worker class, as production runs it.
            **({} if kind == "gthread" else {"worker_class": kind}),
            threads=threads,
            timeout=60,
            graceful_timeout=5,
        )
        self.server = self.children.start(
            args, log=self.work / "gunicorn.log", cwd=self.root
        )
        url = f"http://127.0.0.1:{self.server_port}"
        _wait_for_http(url + "/bench/bare", process=self.server)
        return url

    def start_worker(self, *, concurrency: int, queue: str = "celery"):
        """Starts a Celery worker (no beat) against the bench's database and broker,
        serving one queue."""
        args = processes.celery_command(
            "worker",
            "-Q",
            queue,
            "--concurrency",
            str(concurrency),
            "--loglevel",
            "WARNING",
            python=self.python,
        )
        worker = self.children.start(
            args, log=self.work / f"worker-{queue}.log", cwd=self.root
        )
        _wait_for_worker(worker)
        return worker

    def stop_server(self) -> None:
        if self.server is not None:
            self.children.stop(self.server)
            self.server = None

    def server_pids(self) -> list[int]:
        return descendants(self.server.pid) if self.server is not None else []

    def postgres_pids(self) -> list[int]:
        """The PostgreSQL backends serving the bench database (this process's too)."""
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s",
                [DATABASE],
            )
            return [row[0] for row in cursor.fetchall()]

    # -- teardown ------------------------------------------------------------------------

    def cleanup(self) -> None:
        """Stops every process started here, drops the database, empties Redis DB 7."""
        self.children.stop_all()
        if "django" in sys.modules:
            from django.db import connections

            connections.close_all()
        if self.database_created:
            import psycopg

            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
            self.database_created = False
        try:
            self._flush_redis()
        except Exception as exc:  # cleanup goes on; the next run flushes again
            print(f"make bench: Redis DB 7 not flushed: {exc}", file=sys.stderr)

    def git(self, *args: str) -> str:
        return subprocess.run(  # noqa: S603 (a fixed git command)
            ["git", *args],  # noqa: S607 (git from PATH, as a developer runs it)
            cwd=self.root,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()


def measure_once(root: Path, name: str, measure: Callable[[BenchEnv], str]) -> int:
    """The main of a one-measure script (bench.breakdown, bench.metrics_cost): prints
    what ``measure`` reports of an environment of its own (var/``name``), cleaned up
    after; 2 when a tool it needs is missing."""
    if problems := missing_tools(profile=False):
        print("\n".join(problems), file=sys.stderr)
        return 2
    env = BenchEnv(root)
    env.work = root / "var" / name
    try:
        env.prepare()
        print(measure(env))
    finally:
        env.cleanup()
    return 0


def _wait_for_worker(process, timeout: float = 60.0) -> None:
    """Waits until the worker answers a ping over the broker."""
    from datatalks.celery import app

    def pong() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"celery worker exited with {process.returncode}")
        return bool(app.control.ping(timeout=0.5))

    processes.wait_for(pong, timeout, "the celery worker to answer", interval=0)


def _wait_for_http(url: str, *, process=None, timeout: float = 30.0) -> None:
    """Waits until ``url`` answers with any HTTP status."""
    processes.wait_for(
        lambda: processes.answers(url, ok_only=False, process=process),
        timeout,
        url,
        interval=0.1,
    )
