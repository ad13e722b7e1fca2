"""Real parts for delivery tests: a private Redis broker, a Celery worker (with beat)
in its own process group, and committed data the worker can see."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import kombu.pools
import redis
from django.db import connection

from datatalks.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    """A redis-server of the test's own on a free loopback port, so it can be stopped."""

    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self) -> "PrivateRedis":
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: self._ping(), 10, "redis to start")
        return self

    def _ping(self) -> bool:
        try:
            return redis.Redis.from_url(self.url, socket_timeout=0.5).ping()
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


def use_broker(url: str) -> None:
    """Points this process's Celery app at ``url``, dropping pooled connections."""
    celery_app.conf.broker_url = url
    # kombu keeps one pool per broker URL for the process: closing only the app's
    # would leave a closed pool that the next publish to that URL gets back (and
    # fails on, leaving every wake to the sweeper). Drop them all.
    kombu.pools.reset()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


class Worker:
    """``celery worker -B`` against the test database, in its own process group."""

    def __init__(self, broker_url: str, log_path: Path, **env: str):
        self.broker_url = broker_url
        self.log_path = log_path
        self.env = env
        self.process = None

    def start(self) -> "Worker":
        db = connection.settings_dict
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "REDIS_URL": self.broker_url,
            "DATATALKS_DELIVERY_SWEEP_SECONDS": "1",
            "DATATALKS_DELIVERY_BACKOFF_BASE_SECONDS": "1",
            "DATATALKS_DELIVERY_BACKOFF_CAP_SECONDS": "4",
            "DATATALKS_DELIVERY_TASK_TIME_LIMIT_SECONDS": "20",
            "DATATALKS_DELIVERY_STUCK_SECONDS": "25",
            **self.env,
        }
        self.log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "datatalks",
                "worker",
                "-B",
                "--concurrency=2",
                "--loglevel=INFO",
                "-s",
                str(self.log_path) + ".beat",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def kill(self) -> None:
        """SIGKILL to the worker and its pool processes: nothing gets to clean up."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


def wait_for(check, timeout: float, what: str, interval: float = 0.2):
    """Polls ``check`` until it returns something truthy; fails the test on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
