"""CI (.ci/run): `requirements.txt` alone runs the web server, the worker and beat.

A deployment installs requirements.txt, never the dev file (which `make` uses and which
once hid a missing dependency of kombu's Redis transport). So this builds a fresh venv
from requirements.txt only, imports the broker's transport there, and runs gunicorn, a
Celery worker and Celery beat from that venv with DEBUG off, against a PostgreSQL
database of its own and Redis, with the Salesmanago sandbox from the tree. One profile,
signed with botocore as a customer signs it, must reach the sandbox.

Bounded: pip has its own timeout; after it, the run has RUN_SECONDS to deliver. All
servers listen on 127.0.0.1 ports chosen free, and stop (and the database is dropped)
whatever happens. Needs DATABASE_URL (postgres://, scripts/services.sh) and redis-server.
Run from the top of the tree as ``python -m scripts.check_production_install`` (it
starts its servers with tests/harness/processes.py).
"""

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from cryptography.fernet import Fernet

from tests.harness import processes
from tests.harness.processes import free_port

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "var" / "production-venv"
RUN_SECONDS = 60
PIP_SECONDS = 600


def main() -> int:
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith("postgres"):
        print("check_production_install: needs DATABASE_URL=postgres://...")
        return 1
    python = fresh_venv()
    run(python, "-c", "import kombu.transport.redis, psycopg, gunicorn, celery")
    print("production install: kombu's Redis transport imports")
    server = urlsplit(database_url)
    name = f"production_check_{secrets.token_hex(4)}"
    admin_url = server._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    folder = Path(tempfile.mkdtemp(prefix="datatalks-production-"))
    started: list[subprocess.Popen] = []
    try:
        # A Redis of its own: a shared one may hold other runs' tasks.
        redis_port = free_port()
        start(started, folder, "redis", processes.redis_command(redis_port))
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        return deliver_one(
            python,
            server._replace(path=f"/{name}").geturl(),
            redis_url,
            folder,
            started,
        )
    finally:
        for process in started:
            processes.stop(process)
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(folder, ignore_errors=True)


def fresh_venv() -> Path:
    """A new venv with requirements.txt and nothing else; its python."""
    shutil.rmtree(VENV, ignore_errors=True)
    run(sys.executable, "-m", "venv", str(VENV))
    python = VENV / "bin" / "python"
    run(
        python,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "-r",
        str(ROOT / "requirements.txt"),
        timeout=PIP_SECONDS,
    )
    return python


def deliver_one(python, database_url, redis_url, folder, started) -> int:
    deadline = time.monotonic() + RUN_SECONDS
    sandbox_port, web_port = free_port(), free_port()
    env = processes.service_env(
        settings="datatalks.settings",
        database_url=database_url,
        redis_url=redis_url,
        base={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DATATALKS_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        SALESMANAGO_URL=f"http://127.0.0.1:{sandbox_port}",
        SALESMANAGO_ALLOW_LOOPBACK="true",  # the sandbox stands in for Salesmanago
        DATATALKS_DELIVERY_SWEEP_SECONDS="2",
    )
    manage = [str(python), "manage.py"]
    run(*manage, "migrate", "--no-input", env=env)
    run(*manage, "load_demo", env=env)
    key = dict(
        line.split("=", 1)
        for line in run(*manage, "create_api_key", "demo", env=env).splitlines()
        if "=" in line
    )
    for name, command in [
        ("sandbox", processes.sandbox_command(sandbox_port, python=python)),
        ("web", processes.gunicorn_command(web_port, python=python)),
        (
            "worker",
            processes.celery_command(
                "worker", "--concurrency=1", "--loglevel=INFO", python=python
            ),
        ),
        (
            "beat",
            processes.celery_command(
                "beat",
                "--loglevel=INFO",
                "-s",
                str(folder / "beat-schedule"),
                python=python,
            ),
        ),
    ]:
        start(started, folder, name, command, env)
    web = f"http://127.0.0.1:{web_port}"
    wait(lambda: processes.answers(web + "/api/schema/"), deadline, "gunicorn", folder)
    email = f"production-check-{secrets.token_hex(3)}@example.com"
    status = post_signed(web + "/v2/profiles", profile(email), key)
    if status != 200:
        return fail(f"the signed profile was answered {status}", folder)
    print("production install: gunicorn accepted a signed profile")
    state_url = f"http://127.0.0.1:{sandbox_port}/_sandbox/state"
    wait(lambda: email in contacts(state_url), deadline, "the delivery", folder)
    took = RUN_SECONDS - (deadline - time.monotonic())
    print(f"production install: the worker delivered it to the sandbox ({took:.0f} s)")
    wait(lambda: beat_ran(folder), deadline, "beat's first sweep", folder)
    print("production install: beat sent the sweep")
    return 0


def profile(email: str) -> dict:
    return {
        "type": "person",
        "groupKey": "main_group",
        "data": {
            "customer_id": 4242,
            "first_name": "Pro",
            "last_name": "Duction",
            "email": email,
        },
    }


def post_signed(url: str, body: dict, key: dict) -> int:
    data = json.dumps(body).encode()
    request = AWSRequest(
        "POST", url, data=data, headers={"Content-Type": "application/json"}
    )
    credentials = Credentials(key["ACCESS_KEY_ID"], key["SECRET_ACCESS_KEY"])
    SigV4Auth(credentials, "execute-api", "eu-north-1").add_auth(request)
    prepared = urllib.request.Request(  # noqa: S310 (a loopback http URL)
        url, data=data, headers=dict(request.headers)
    )
    try:
        with urllib.request.urlopen(prepared, timeout=10) as response:  # noqa: S310 (loopback)
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def contacts(url: str) -> str:
    with (
        contextlib.suppress(OSError),
        urllib.request.urlopen(url, timeout=2) as response,  # noqa: S310 (loopback)
    ):
        return response.read().decode()
    return ""


def beat_ran(folder: Path) -> bool:
    return "deliveries_sweep_task" in (folder / "beat.log").read_text(errors="replace")


def wait(check, deadline: float, what: str, folder: Path) -> None:
    try:
        processes.wait_for(check, deadline - time.monotonic(), what, interval=0.5)
    except TimeoutError as exc:
        fail(str(exc), folder)
        raise SystemExit(1) from None


def fail(message: str, folder: Path) -> int:
    print(f"production install: FAILED: {message}")
    for log in sorted(folder.glob("*.log")):
        print(f"--- {log.name} (last 40 lines)")
        print("\n".join(log.read_text(errors="replace").splitlines()[-40:]))
    return 1


def run(*command, env=None, timeout: float = 120) -> str:
    done = subprocess.run(  # noqa: S603 (our own commands)
        [str(c) for c in command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode:
        print(done.stdout[-3000:], done.stderr[-3000:], sep="\n")
        raise SystemExit(f"failed: {' '.join(str(c) for c in command)}")
    return done.stdout


def start(started, folder: Path, name: str, command: list, env=None) -> None:
    """Starts ``command`` in its own process group, logging to ``folder/name.log``."""
    started.append(processes.start(command, log=folder / f"{name}.log", env=env))


if __name__ == "__main__":
    sys.exit(main())
