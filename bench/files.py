"""The files phase of `make bench`: a profile CSV of 1,000,000 rows from upload to the
last row stored, through the running gunicorn and one Celery worker of its own.

The file is uploaded as customers do (signed with botocore, streamed from disk); the
worker serves only the files queue (DATATALKS_FILE_QUEUE=files), so the outbox rows are
written as in the batch phases but not sent while the phase runs. The worker's memory
is sampled while it works: it should stay flat whatever the file's size.
"""

import csv
import threading
import time
from pathlib import Path

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from bench.procs import CpuWindow, descendants

FILE_ROWS = 1_000_000
QUICK_ROWS = 20_000
FIRST_ID = 500_000_000  # Hard-IDs no other phase uses
COLUMNS = [
    "customer_id",
    "first_name",
    "last_name",
    "email",
    "age",
    "city",
    "is_member",
]


def write_csv(path: Path, rows: int) -> int:
    """A profile CSV of ``rows`` rows, each a new Hard-ID; returns its size."""
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for i in range(FIRST_ID, FIRST_ID + rows):
            writer.writerow(
                [
                    i,
                    "Bench",
                    f"Person {i}",
                    f"file.{i}@example.com",
                    20 + i % 60,
                    "Stockholm",
                    "Yes" if i % 2 else "No",
                ]
            )
    return path.stat().st_size


class MemorySampler:
    """Samples the resident memory (VmRSS) of process trees every ``interval`` s."""

    def __init__(self, groups: dict, interval: float = 0.5):
        self.groups, self.interval = groups, interval
        self.samples: dict[str, list[int]] = {name: [] for name in groups}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "MemorySampler":
        self._thread.start()
        return self

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join(5)
        return {name: _memory_summary(values) for name, values in self.samples.items()}

    def _run(self) -> None:
        while not self._stop.is_set():
            for name, pids in self.groups.items():
                self.samples[name].append(max((_rss(p) for p in pids()), default=0))
            self._stop.wait(self.interval)


def _rss(pid: int) -> int:
    """Resident memory of one process, in bytes (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def _memory_summary(values: list[int]) -> dict:
    """Peak RSS, and the largest at the start and the end (flat: about equal)."""
    if not values:
        return {}
    tenth = max(1, len(values) // 10)
    return {
        "peak_rss_mb": round(max(values) / 2**20, 1),
        "first_tenth_peak_rss_mb": round(max(values[:tenth]) / 2**20, 1),
        "last_tenth_peak_rss_mb": round(max(values[-tenth:]) / 2**20, 1),
        "samples": len(values),
    }


class FilesPhase:
    """One file, uploaded and processed; ``run`` returns the figures."""

    def __init__(self, env, url: str, *, rows: int, scope: dict):
        self.env, self.url, self.rows, self.scope = env, url, rows, scope
        self.auth = SigV4Auth(
            Credentials(env.key, env.secret), scope["service"], scope["region"]
        )

    def run(self) -> dict:
        path = self.env.work / "profiles.csv"
        print(f"measuring: a {self.rows:,}-row profile CSV, upload to last row stored")
        size = write_csv(path, self.rows)
        worker = self.env.start_worker(concurrency=1, queue="files")
        window = CpuWindow(
            {
                "worker": lambda: descendants(worker.pid),
                "web": self.env.server_pids,
                "postgres": self.env.postgres_pids,
            }
        ).start()
        memory = MemorySampler(
            {
                "worker": lambda: descendants(worker.pid)[1:] or [worker.pid],
                "web": lambda: self.env.server_pids()[1:],
            }
        ).start()
        started = time.monotonic()
        file_id = self._upload(path)
        uploaded = time.monotonic()
        state = self._wait(file_id)
        ended = time.monotonic()
        result = self._result(state, size, started, uploaded, ended)
        result["memory"] = memory.stop()
        result["cpu_cores"] = window.stop()
        self.env.children.stop(worker)
        return result

    def _signed(self, method: str, path: str, body=b"", headers=None) -> dict:
        request = AWSRequest(
            method=method, url=self.url + path, data=body, headers=headers or {}
        )
        self.auth.add_auth(request)
        return dict(request.headers.items())

    def _upload(self, path: Path) -> str:
        target = "/v3/files/profiles?type=person"
        with path.open("rb") as body:
            headers = self._signed("POST", target, body, {"Content-Type": "text/csv"})
            body.seek(0)
            response = requests.post(
                self.url + target, data=body, headers=headers, timeout=600
            )
        if response.status_code != 202:
            raise RuntimeError(
                f"upload refused: {response.status_code} {response.text}"
            )
        return response.json()["fileId"]

    def _wait(self, file_id: str, timeout: float = 3600) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            target = f"/v3/files/{file_id}"
            state = requests.get(
                self.url + target, headers=self._signed("GET", target), timeout=30
            ).json()
            if state.get("status") in ("done", "failed"):
                return state
            time.sleep(0.5)
        raise RuntimeError(f"file {file_id} not finished after {timeout:g} s")

    def _result(self, state, size, started, uploaded, ended) -> dict:
        if state["status"] != "done" or state["rowsAccepted"] != self.rows:
            raise RuntimeError(f"file not stored whole: {state}")
        return {
            "rows": self.rows,
            "bytes": size,
            "upload_seconds": round(uploaded - started, 2),
            "seconds": round(ended - started, 2),
            "rows_per_s": round(self.rows / (ended - started), 1),
            "processing_rows_per_s": round(self.rows / (ended - uploaded), 1),
            "method": "POST /v3/files/profiles (signed, streamed from disk), then a "
            "Celery worker (concurrency 1, files queue) until status done",
        }


def file_lines(files: dict | None, batch_items_per_s: float | None) -> list[str]:
    """The phase's lines of the printed table."""
    if not files:
        return []
    memory = files["memory"].get("worker", {})
    lines = [
        f"Files: {files['rows']:,} rows ({files['bytes'] / 2**20:.0f} MiB CSV), upload to "
        f"last row stored in {files['seconds']:,.1f} s (upload {files['upload_seconds']} s)",
        f"  {files['rows_per_s']:>10,.0f} rows/s"
        + (
            f"   (batch endpoint: {batch_items_per_s:,.0f} items/s)"
            if batch_items_per_s
            else ""
        ),
        f"  worker peak RSS {memory.get('peak_rss_mb')} MiB (first tenth "
        f"{memory.get('first_tenth_peak_rss_mb')}, last tenth "
        f"{memory.get('last_tenth_peak_rss_mb')}); web peak RSS "
        f"{files['memory'].get('web', {}).get('peak_rss_mb')} MiB",
        f"  cores: {files['cpu_cores']}",
    ]
    return lines
