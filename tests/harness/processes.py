"""Servers of a test, a bench run or a CI script: free loopback ports, processes in
their own process groups, readiness waits, and the commands that start the API, a
Celery worker and the Salesmanago sandbox.

Written once for tests/, bench/ and scripts/. The standard library only (no Django,
no requests), so anything in the tree can import it, whatever it has set up. Stopping a
process signals its own process group, never a name: other runs on the machine keep
their gunicorns and workers.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def loopback_url(port: int) -> str:
    return f"http://{LOOPBACK}:{port}"


def wait_for(check: Callable, timeout: float, what: str, interval: float = 0.2):
    """Polls ``check`` until it returns something truthy, and returns that; raises
    TimeoutError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")


def answers(url: str, *, ok_only: bool = True, process=None) -> bool:
    """Whether ``url`` answers (with a 2xx, or with any HTTP status if not
    ``ok_only``). A ``process`` that serves it and has exited is an error."""
    if process is not None and process.poll() is not None:
        raise RuntimeError(f"{process.args[0]} exited with {process.returncode}")
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
            return 200 <= response.status < 300 or not ok_only
    except urllib.error.HTTPError:
        return not ok_only
    except OSError:
        return False


def start(
    args: list, *, log: Path | None, env: dict | None = None, cwd: Path = ROOT
) -> subprocess.Popen:
    """Starts ``args`` in a new session (its own process group), appending its output
    to ``log`` (None: nowhere)."""
    with open(log or os.devnull, "ab") as out:
        return subprocess.Popen(
            [str(a) for a in args],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def signal_group(process: subprocess.Popen, sig: int) -> None:
    """Sends ``sig`` to the process's group (it and what it started), if any is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def stop(process: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM to the process's group, SIGKILL after ``timeout``; then SIGKILL to what
    is left of the group (workers whose master was killed keep its group id)."""
    if process.poll() is None:
        signal_group(process, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            kill(process)
    signal_group(process, signal.SIGKILL)


def kill(process: subprocess.Popen) -> None:
    """SIGKILL to the process's group: nothing gets to clean up."""
    signal_group(process, signal.SIGKILL)
    process.wait(10)


def group_ended(process: subprocess.Popen) -> bool:
    """Whether every process of the group has ended."""
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return True
    return False


# The commands. ``python`` is the interpreter of the venv to run them from.


def gunicorn_command(
    port: int,
    *arguments: str,
    workers: int = 2,
    python: Path | str = sys.executable,
    **options,
) -> list[str]:
    """The API under gunicorn (the production server) on 127.0.0.1:``port``;
    ``options`` are more of gunicorn's (``worker_class="gthread"``), ``arguments``
    go last as they are."""
    extra = [
        item
        for name, value in options.items()
        for item in (f"--{name.replace('_', '-')}", str(value))
    ]
    return [
        str(python),
        "-m",
        "gunicorn",
        "datatalks.wsgi",
        "--bind",
        f"{LOOPBACK}:{port}",
        "--workers",
        str(workers),
        *extra,
        # The default control socket is one path per user: servers would clash.
        "--no-control-socket",
        *arguments,
    ]


def celery_command(*arguments: str, python: Path | str = sys.executable) -> list[str]:
    """``celery -A datatalks`` with ``arguments`` (``worker``, ``beat``, options)."""
    return [str(python), "-m", "celery", "-A", "datatalks", *arguments]


def sandbox_command(port: int, *, python: Path | str = sys.executable) -> list[str]:
    """The Salesmanago sandbox on 127.0.0.1:``port``."""
    return [
        str(python),
        "manage.py",
        "salesmanago_sandbox",
        "--host",
        LOOPBACK,
        "--port",
        str(port),
    ]


def redis_command(port: int) -> list[str]:
    """A redis-server of one's own on 127.0.0.1:``port``, keeping nothing on disk."""
    return [
        "redis-server",
        "--bind",
        LOOPBACK,
        "--port",
        str(port),
        "--save",
        "",
        "--appendonly",
        "no",
    ]


def service_env(
    *,
    settings: str,
    database_url: str,
    redis_url: str,
    base: dict | None = None,
    **extra,
) -> dict[str, str]:
    """The environment of a server or command of one's own: ``base`` (this process's
    environment by default) with the settings module, database and broker set."""
    return {
        **(os.environ if base is None else base),
        "DJANGO_SETTINGS_MODULE": settings,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "PYTHONUNBUFFERED": "1",
        **extra,
    }
