"""Real parts for delivery tests: a private Redis broker and a Celery worker (with
beat) in its own process group, started through tests/harness/processes.py."""

import contextlib
import signal
import subprocess
from pathlib import Path

import kombu.pools
import redis

from datatalks.celery import app as celery_app

from . import processes
from .faults import shared_test_database_url
from .processes import free_port, service_env, wait_for


class PrivateRedis:
    """A redis-server of the test's own on a free loopback port, so it can be stopped."""

    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self) -> "PrivateRedis":
        self.process = processes.start(processes.redis_command(self.port), log=None)
        wait_for(lambda: self._ping(), 10, "redis to start")
        return self

    def _ping(self) -> bool:
        try:
            return redis.Redis.from_url(self.url, socket_timeout=0.5).ping()
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.process:
            processes.stop(self.process)


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
        quick = {
            "DATATALKS_DELIVERY_SWEEP_SECONDS": "1",
            "DATATALKS_DELIVERY_BACKOFF_BASE_SECONDS": "1",
            "DATATALKS_DELIVERY_BACKOFF_CAP_SECONDS": "4",
            "DATATALKS_DELIVERY_TASK_TIME_LIMIT_SECONDS": "20",
            "DATATALKS_DELIVERY_STUCK_SECONDS": "25",
        }
        env = service_env(
            settings="tests.settings",
            database_url=shared_test_database_url(),
            redis_url=self.broker_url,
            **{**quick, **self.env},
        )
        command = processes.celery_command(
            "worker",
            "-B",
            "--concurrency=2",
            "--loglevel=INFO",
            "-s",
            str(self.log_path) + ".beat",
        )
        self.process = processes.start(command, log=self.log_path, env=env)
        return self

    def kill(self) -> None:
        """SIGKILL to the worker and its pool processes: nothing gets to clean up."""
        processes.kill(self.process)

    def stop(self) -> None:
        """Celery's warm shutdown: SIGTERM to the main process alone, which lets its
        pool finish the tasks it is running (a signal to the whole group would kill the
        pool mid-call and leave events of unknown outcome); then the group is stopped."""
        if self.process:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(30)
            processes.stop(self.process, timeout=5)
