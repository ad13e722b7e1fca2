"""A Prometheus server of the test's own (Debian's package, scripts/install_prometheus.sh):
on a free loopback port, with a private config and data directory, scraping every
second; queried through its HTTP API; stopped at the end."""

import json
import shutil
from pathlib import Path

import requests

from . import processes
from .processes import free_port, wait_for


class PrivatePrometheus:
    """``prometheus`` scraping ``target`` (host:port) every second with a bearer token."""

    def __init__(self, root: Path, target: str, token: str):
        binary = shutil.which("prometheus")
        if not binary:
            raise AssertionError(
                "prometheus is not installed: run scripts/install_prometheus.sh "
                "(make test and .ci/run do)"
            )
        self.binary = binary
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = root / "prometheus.yml"
        # JSON is YAML: no YAML writer needed.
        self.config.write_text(
            json.dumps(
                {
                    "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                    "scrape_configs": [
                        {
                            "job_name": "datatalks",
                            "scrape_interval": "1s",
                            "scrape_timeout": "1s",
                            "metrics_path": "/metrics",
                            "authorization": {"type": "Bearer", "credentials": token},
                            "static_configs": [{"targets": [target]}],
                        }
                    ],
                }
            )
        )
        self.process = None

    def start(self) -> "PrivatePrometheus":
        self.process = processes.start(
            [
                self.binary,
                f"--config.file={self.config}",
                f"--storage.tsdb.path={self.root / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=1h",
            ],
            log=self.root / "prometheus.log",
            cwd=self.root,
        )
        wait_for(self._ready, 60, "prometheus to start")
        return self

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            log = (self.root / "prometheus.log").read_text(errors="replace")
            raise AssertionError(f"prometheus exited: {log[-2000:]}")
        try:
            return requests.get(self.url + "/-/ready", timeout=2).ok
        except requests.RequestException:
            return False

    def query(self, promql: str) -> list[dict]:
        """The instant vector of ``promql`` as Prometheus's API returns it."""
        response = requests.get(
            self.url + "/api/v1/query", params={"query": promql}, timeout=5
        )
        response.raise_for_status()
        return response.json()["data"]["result"]

    def scalar(self, promql: str) -> float | None:
        """The single value of ``promql``; None while it has no sample."""
        result = self.query(promql)
        return float(result[0]["value"][1]) if result else None

    def stop(self) -> None:
        if self.process:
            processes.stop(self.process, timeout=20)
