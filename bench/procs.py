"""Processes of the bench: started in their own sessions, stopped by id, CPU counted.

Every child runs in a new session (its own process group), so stopping it stops what it
started (gunicorn's workers) and nothing else on the machine.
"""

import contextlib
import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.harness import processes

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class Children:
    """The processes this run started; ``stop_all`` ends them, newest first."""

    def __init__(self) -> None:
        self._procs: list[subprocess.Popen] = []

    def start(self, args: list[str], *, log: Path, **kwargs) -> subprocess.Popen:
        proc = processes.start(args, log=log, **kwargs)
        self._procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen, timeout: float = 10.0) -> None:
        """SIGTERM to the process's group, SIGKILL after ``timeout``."""
        processes.stop(proc, timeout)
        if proc in self._procs:
            self._procs.remove(proc)

    def stop_all(self) -> None:
        for proc in reversed(list(self._procs)):
            self.stop(proc)


def run_measured(args: list[str], *, env: dict, stdout: Path) -> tuple[int, float]:
    """Runs a command to its end; returns its exit code and the CPU seconds it used."""
    with stdout.open("wb") as out:
        proc = subprocess.Popen(  # noqa: S603 (our own commands, no shell)
            args, stdout=out, stderr=subprocess.STDOUT, env=env
        )
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_utime + usage.ru_stime


# CPU accounting, from /proc.


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process so far; 0 if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def descendants(pid: int) -> list[int]:
    """The process and all its descendants (gunicorn's master and workers)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            with contextlib.suppress(FileNotFoundError):
                todo += [int(p) for p in task.read_text().split()]
    return found


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent not idle since boot (from /proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / CLOCK_TICKS


@dataclass
class CpuWindow:
    """CPU used by named groups of processes between ``start`` and ``stop``."""

    groups: dict  # name -> callable returning the group's pids now
    started: float = 0.0
    before: dict = field(default_factory=dict)
    machine_before: float = 0.0

    def start(self) -> "CpuWindow":
        self.before = {
            name: {pid: cpu_seconds(pid) for pid in pids()}
            for name, pids in self.groups.items()
        }
        self.machine_before = machine_busy_seconds()
        self.started = time.monotonic()
        return self

    def stop(self, **extra_cpu_seconds: float) -> dict:
        """Cores used per group (CPU seconds / wall seconds), plus the whole machine."""
        wall = time.monotonic() - self.started
        used = {}
        for name, pids in self.groups.items():
            before = self.before.get(name, {})
            used[name] = sum(cpu_seconds(p) - before.get(p, 0.0) for p in pids())
        used.update(extra_cpu_seconds)
        machine = machine_busy_seconds() - self.machine_before
        cores = {name: round(seconds / wall, 2) for name, seconds in used.items()}
        cores["machine"] = round(machine / wall, 2)
        cores["everything_else"] = round(
            max(0.0, machine - sum(used.values())) / wall, 2
        )
        return cores


def parse_marked_json(text: str, marker: str) -> dict:
    """The JSON object printed after ``marker`` on a line of ``text``."""
    for line in text.splitlines():
        if line.startswith(marker):
            return json.loads(line[len(marker) :])
    raise ValueError(f"no line starting with {marker!r} in:\n{text[-2000:]}")
