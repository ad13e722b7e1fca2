"""nginx in front of gunicorn as production runs it (deploy/nginx.conf), rendered with
a free loopback port and a temporary directory, run as an unprivileged user."""

import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from . import processes
from .delivery import PrivateRedis
from .faults import Gunicorn, server_env, shared_test_database_url
from .processes import ROOT, free_port, wait_for

NGINX = "/usr/sbin/nginx"
TEMPLATE = ROOT / "deploy" / "nginx.conf"
UNPRIVILEGED = "nobody"


def nginx_config(*, listen: str, upstream: str, state: str) -> str:
    """deploy/nginx.conf with its placeholders filled in; every one must be."""
    text = TEMPLATE.read_text()
    for name, value in (("LISTEN", listen), ("UPSTREAM", upstream), ("STATE", state)):
        text = text.replace(f"@{name}@", value)
    directives = [
        line for line in text.splitlines() if not line.lstrip().startswith("#")
    ]
    leftover = re.findall(r"@[A-Z_]+@", "\n".join(directives))
    assert not leftover, f"unfilled placeholders in {TEMPLATE}: {leftover}"
    return text


class Nginx:
    """nginx on a free 127.0.0.1 port proxying to ``upstream`` (host:port), as
    ``nobody`` when the tests run as root, in its own process group."""

    def __init__(self, upstream: str):
        self.upstream = upstream
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.state = Path(tempfile.mkdtemp(prefix="datatalks-nginx-"))
        self.process = None

    def start(self) -> "Nginx":
        if not os.path.exists(NGINX):
            raise AssertionError("nginx is missing: scripts/install_nginx.sh")
        config = self.state / "nginx.conf"
        config.write_text(
            nginx_config(
                listen=f"127.0.0.1:{self.port}",
                upstream=self.upstream,
                state=str(self.state),
            )
        )
        prefix = []
        if os.geteuid() == 0:
            user = pwd.getpwnam(UNPRIVILEGED)
            os.chown(self.state, user.pw_uid, user.pw_gid)
            prefix = ["runuser", "-u", UNPRIVILEGED, "--"]
        self.process = subprocess.Popen(
            [
                *prefix,
                NGINX,
                "-p",
                str(self.state),
                "-c",
                str(config),
                "-e",
                str(self.state / "error.log"),
                "-g",
                "daemon off;",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        wait_for(self._listens, 15, "nginx to start")
        return self

    def _listens(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"nginx exited: {self.process.stderr.read()!r}")
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def access_log(self) -> str:
        path = self.state / "access.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process:
            processes.stop(self.process)
        shutil.rmtree(self.state, ignore_errors=True)


# gunicorn's flags behind nginx (README): nginx bounds the headers' total size (32 KiB),
# so gunicorn may take as many fields as fit in it and never answers them in HTML.
GUNICORN_BEHIND_NGINX = ("--limit-request-fields", "8000", "--timeout", "30")


@contextlib.contextmanager
def gunicorn_behind_nginx(log_dir: Path, *gunicorn_args: str):
    """gunicorn (2 sync workers) on the test's database and a private Redis, behind
    nginx; yields (gunicorn, nginx) and stops all three at the end."""
    redis = PrivateRedis().start()
    env = server_env(shared_test_database_url(), redis.url)
    args = (*GUNICORN_BEHIND_NGINX, *gunicorn_args)
    api = Gunicorn(env, log_dir / "gunicorn.log", extra_args=args)
    proxy = Nginx(f"127.0.0.1:{api.port}")
    try:
        api.start()
        proxy.start()
        yield api, proxy
    finally:
        proxy.stop()
        api.stop()
        redis.stop()


def raw_exchange(
    port: int, data: bytes, timeout: float = 15
) -> tuple[int, dict, bytes]:
    """Sends ``data`` as is to 127.0.0.1:``port``; the answer's status, headers (lower
    case names) and body (of its Content-Length, or until the server closes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        while b"\r\n\r\n" not in received and (chunk := sock.recv(65536)):
            received += chunk
        head, _, body = received.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", -1))
        while (length < 0 or len(body) < length) and (chunk := sock.recv(65536)):
            body += chunk
    return int(status_line.split()[1]), headers, body
