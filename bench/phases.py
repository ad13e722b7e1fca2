"""The measurements of `make bench`, in the order they run.

Load comes from wrk (bench/signed.lua) cycling through requests signed just before each
phase, every one a new Hard-ID, so the figures are of inserts with their outbox rows.
"""

import math
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

from bench import pool, queries
from bench.procs import CpuWindow, descendants, parse_marked_json, run_measured
from bench.profile import parse_raw, summarize

LUA = Path(__file__).resolve().parent / "signed.lua"
# (worker class, workers, threads per worker): the configurations compared on 2 cores.
# gthread lets a process's concurrent single ingests share a statement (group commit,
# ingestion/grouping.py); sync serves one request per process, so never does.
CANDIDATES = [
    ("gthread", 2, 8),
    ("sync", 3, 1),
    ("sync", 2, 1),
    ("sync", 4, 1),
    ("gthread", 2, 4),
    ("gthread", 3, 8),
]
# wrk keeps its connections alive, and each stays with the gunicorn process that
# accepted it: with 16, a run of gthread:2x8 could leave 12 on one process and 4 on the
# other (about one run in three, the machine half idle). 32 spread near evenly, as
# many clients do (and nginx opens one connection a request).
CONNECTIONS = 32
BATCH_CONNECTIONS = 8
SINGLE = "/v3/profiles"
BATCH = "/v3/profiles/batch"
SYNC_DELIVERIES = 10_000  # per category: contacts, then events
SYNC_PROFILED = 3_000  # per category, in the profiled pass (py-spy slows it down)
# The bare phase is the ratio's yardstick only when the bench's own processes (gunicorn
# and wrk) had the whole machine; short of this share it is measured again.
FULL_MACHINE = 0.9
BARE_ATTEMPTS = 3
SYNC_WORKER_PROCESSES = 2
# The sender's frames (its calls go out from its own thread): the samples that count.
_SENDING = ("account_deliver",)


class PhaseError(RuntimeError):
    """A phase whose figures would be wrong (refused requests, failed pre-check)."""


class Phases:
    def __init__(
        self, env, *, duration: float, quick: bool, sync_count: int | None = None
    ):
        self.env = env
        self.duration = duration
        self.quick = quick
        self.sync_count = sync_count
        self.url = ""
        self.single_rps_guess = 1500.0
        self.workers = 2

    # -- server ------------------------------------------------------------------------

    def choose_server(self, forced: str | None) -> dict:
        """Compares worker configurations on single-item ingest; keeps the fastest."""
        candidates = [_parse_server(forced)] if forced else CANDIDATES
        if self.quick and not forced:
            candidates = candidates[:2]
        measured = []
        for config in candidates:
            self._start(config)
            if len(candidates) == 1:
                break
            result = self._single(seconds=2 if self.quick else 4)
            measured.append({"server": _label(config), **_brief(result)})
            print(
                f"  {_label(config):<12} {result['requests_per_s']:>7,.0f} req/s  "
                f"p99 {result['p99_ms']:.1f} ms",
                flush=True,
            )
        if measured:
            best = max(measured, key=lambda m: m["requests_per_s"])
            self.single_rps_guess = best["requests_per_s"]
            chosen = next(c for c in candidates if _label(c) == best["server"])
            self._start(chosen)
        else:
            chosen = candidates[0]
        return {
            "chosen": _label(chosen),
            "compared": measured,
            "connections": CONNECTIONS,
        }

    def _start(self, config) -> None:
        kind, workers, threads = config
        self.workers = workers
        self.url = self.env.start_server(kind, workers, threads)
        self.signer = pool.Signer(
            self.url, self.env.key, self.env.secret, **pool.scope()
        )
        # Every worker opens its database connection and compiles the mappings.
        self._run(SINGLE, pool.single_bodies(500), seconds=1.0, check=False)

    # -- load phases -------------------------------------------------------------------

    def load_phases(self) -> dict:
        print("measuring: bare endpoint, single ingest, batches", flush=True)
        d = self.duration
        phases = {"bare DRF endpoint": self._bare(seconds=d)}
        saturated = self._single(seconds=d)
        phases["single ingest, saturation"] = saturated
        rate = saturated["requests_per_s"] / 2
        phases[f"single ingest, {rate:,.0f}/s (half)"] = self._single(
            seconds=d, rate=rate
        )
        for items in (100, 1000):
            phases[f"batch ingest, {items:,} items"] = self._batch(items, seconds=d)
        return phases

    def _bare(self, *, seconds: float) -> dict:
        """The bare endpoint, measured again (up to BARE_ATTEMPTS) while the bench's
        processes got less than FULL_MACHINE of the cores: other work on the machine
        would make the ratio to it meaningless. Every attempt is kept."""
        attempts = []
        for attempt in range(BARE_ATTEMPTS):
            if attempt:
                time.sleep(5)
            result = self._run("/bench/bare", pool.single_bodies(3000), seconds=seconds)
            result["bench_cores"] = _bench_cores(result)
            attempts.append(result)
            print(
                f"  bare endpoint: {result['requests_per_s']:,.0f} req/s on "
                f"{result['bench_cores']:.2f} of {os.cpu_count()} cores",
                flush=True,
            )
            if _full_machine(result):
                break
        best = max(attempts, key=lambda r: r["bench_cores"])
        best["full_machine"] = _full_machine(best)
        best["attempts"] = [
            _brief(a) | {"bench_cores": a["bench_cores"]} for a in attempts
        ]
        if not best["full_machine"]:
            print(
                f"  WARNING: the bare phase never had the machine (best "
                f"{best['bench_cores']:.2f} of {os.cpu_count()} cores): other work "
                "shares it, so the ratio to bare DRF is not meaningful",
                flush=True,
            )
        return best

    def _single(self, *, seconds: float, rate: float | None = None) -> dict:
        expected = (rate or self.single_rps_guess * 1.5) * seconds
        bodies = pool.single_bodies(int(expected) + 500)
        return self._run(SINGLE, bodies, seconds=seconds, rate=rate)

    def _batch(self, items: int, *, seconds: float) -> dict:
        # One timed request sizes the pool, so the whole phase inserts.
        started = time.monotonic()
        pool.check_accepted(
            self.signer.post(BATCH, pool.batch_body(pool.new_profiles(items))), items
        )
        per_request = time.monotonic() - started
        count = math.ceil(
            seconds * min(self.workers, os.cpu_count()) / per_request * 1.5
        )
        bodies = pool.batch_bodies(min(count, 400_000 // items) + 2, items)
        return self._run(
            BATCH, bodies, seconds=seconds, items=items, connections=BATCH_CONNECTIONS
        )

    def _run(
        self,
        path,
        bodies,
        *,
        seconds,
        items=1,
        rate=None,
        connections=CONNECTIONS,
        check=True,
    ) -> dict:
        pool_file = self.env.work / "pool.txt"
        size = self.signer.write_pool(pool_file, path, bodies)
        if check and path != "/bench/bare":
            body = (
                pool.batch_body(pool.new_profiles(items))
                if items > 1
                else next(pool.single_bodies(1))
            )
            pool.check_accepted(self.signer.post(path, body), items)
        rows_before, started = _data_points(), _database_now()
        window = CpuWindow(
            {"server": self.env.server_pids, "postgres": self.env.postgres_pids}
        ).start()
        wrk = self._wrk(pool_file, seconds, connections, rate)
        cpu = window.stop(generator=wrk.pop("cpu_seconds"))
        self._drain()
        rows = _data_points() - rows_before
        result = _phase_result(wrk, cpu, size=size, items=items, rows=rows, rate=rate)
        if path == SINGLE:
            result["requests_per_statement"] = _requests_per_statement(started)
        return result

    def _wrk(self, pool_file: Path, seconds: float, connections: int, rate) -> dict:
        env = {**os.environ}
        if rate:
            env["BENCH_RATE_PER_THREAD"] = f"{rate:.3f}"
        args = [
            "wrk",
            "-t",
            "1",
            "-c",
            str(connections),
            "-d",
            f"{max(1, round(seconds))}s",
            "--timeout",
            "30s",
            "-s",
            str(LUA),
            self.url,
            "--",
            str(pool_file),
            "1",
        ]
        out = self.env.work / "wrk.out"
        code, cpu_seconds = run_measured(args, env=env, stdout=out)
        text = out.read_text()
        if code != 0:
            raise PhaseError(f"wrk exited with {code}:\n{text[-2000:]}")
        result = parse_marked_json(text, "BENCH_RESULT ")
        result["cpu_seconds"] = cpu_seconds
        return result

    def _drain(self, quiet: float = 0.02, timeout: float = 60.0) -> None:
        """Waits until requests wrk left in flight are done (the workers are idle)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            window = CpuWindow({"server": self.env.server_pids}).start()
            time.sleep(0.25)
            if window.stop()["server"] <= quiet:
                return

    # -- profile -------------------------------------------------------------------------

    def profile(self) -> dict:
        """py-spy on every worker while single-item ingest runs at saturation, twice:
        samples holding the GIL (CPU), then every sample (wall time, waits included)."""
        seconds = max(3.0, self.duration)
        print(f"profiling single ingest, 2 x {seconds:g} s (py-spy)", flush=True)
        return {
            "cpu": self._record(seconds, "--gil"),
            "wall": self._record(seconds, "--idle"),
            "note": "py-spy at 100 Hz on every worker; the load runs slower meanwhile",
        }

    def _record(self, seconds: float, mode: str) -> dict:
        raw = self.env.work / f"profile{mode.replace('--', '-')}.txt"
        spy = self.env.children.start(
            [
                str(self.env.bin / "py-spy"),
                "record",
                "--pid",
                str(self.env.server.pid),
                "--subprocesses",
                "--nolineno",
                "--rate",
                "100",
                "--duration",
                f"{seconds + 2:g}",
                "--format",
                "raw",
                "--output",
                str(raw),
                mode,
            ],
            log=self.env.work / "py-spy.log",
        )
        time.sleep(1.0)  # py-spy attaches to the master and finds the workers
        result = self._single(seconds=seconds)
        try:
            spy.wait(timeout=seconds + 30)
        except subprocess.TimeoutExpired:
            raise PhaseError("py-spy did not finish") from None
        summary = summarize(parse_raw(raw.read_text() if raw.exists() else ""))
        summary["load"] = _brief(result)
        return summary

    # -- Salesmanago sync ----------------------------------------------------------------

    def sync(self, *, profile: bool = False) -> dict:
        """Deliveries/s to the sandbox through Celery, as production sends them: two
        worker processes, one sender per account at a time (the advisory lock).
        ``profile``: then a second, smaller pass under py-spy for the worker's profile
        (sampling costs the machine CPU: the rates come from the pass without it)."""
        count = self.sync_count or (1000 if self.quick else SYNC_DELIVERIES)
        print(
            f"measuring: Salesmanago sync of {count:,} contacts + {count:,} events",
            flush=True,
        )
        result = self._sync_pass(count, profile=False)
        if profile:
            spied = min(count, SYNC_PROFILED)
            print(f"profiling the sync, {spied:,} + {spied:,} (py-spy)", flush=True)
            result["profile"] = self._sync_pass(spied, profile=True).get("profile")
        return result

    def _sync_pass(self, count: int, *, profile: bool) -> dict:
        """``count`` new contacts and as many events, ingested in batches, then sent."""
        from integrations.models import Delivery, DeliveryStatus, SalesmanagoAccount

        profiles = pool.new_profiles(count)
        events = [
            pool.event(i, p["data"]["customer_id"]) for i, p in enumerate(profiles)
        ]
        for path, items in (
            ("/v3/profiles/batch", profiles),
            ("/v3/events/batch", events),
        ):
            for start in range(0, len(items), 1000):
                chunk = items[start : start + 1000]
                pool.check_accepted(
                    self.signer.post(path, pool.batch_body(chunk)), len(chunk)
                )
        # Only this phase's outbox rows are sent: what earlier phases left is set aside.
        keys = [str(p["data"]["customer_id"]) for p in profiles]
        keys += [e["data"]["event_id"] for e in events]
        pending = Delivery.objects.filter(status=DeliveryStatus.PENDING)
        pending.exclude(data_point__hard_id__in=keys).update(
            status=DeliveryStatus.SUPERSEDED
        )
        account = SalesmanagoAccount.objects.get(customer__slug="demo")
        if pending.count() != 2 * count:
            raise PhaseError(
                f"{pending.count()} pending deliveries, expected {2 * count}"
            )
        sent = Delivery.objects.filter(
            status=DeliveryStatus.SENT, data_point__hard_id__in=keys
        )
        return self._deliver(account.pk, count, sent, profile=profile)

    def _deliver(self, account_id: int, count: int, sent_rows, *, profile) -> dict:
        from datatalks.celery import app
        from integrations.tasks import account_deliver_task

        app.control.purge()  # the wake-ups the ingest phases published
        worker = self.env.start_worker(concurrency=SYNC_WORKER_PROCESSES)
        groups = {
            "worker": lambda: descendants(worker.pid),
            "sandbox": lambda: [self.env.sandbox.pid],
            "postgres": self.env.postgres_pids,
        }
        spy = self._spy(worker.pid) if profile else None
        window = CpuWindow(groups).start()
        started = time.monotonic()
        # One wake per worker process: the lock lets one of them send at a time.
        for _ in range(SYNC_WORKER_PROCESSES):
            account_deliver_task.delay(account_id)
        sent, contacts = self._wait_sent(sent_rows, count, groups)
        ended = time.monotonic()
        cpu = window.stop()
        events_cpu = contacts["window"].stop() if contacts else cpu
        self.env.children.stop(worker)
        if sent != 2 * count:
            raise PhaseError(f"{sent} deliveries sent of {2 * count} within 300 s")
        contacts_done_at = contacts["at"] if contacts else ended
        parts = {
            "contacts": _rate(count, contacts_done_at - started, contacts.get("cpu")),
            "events": _rate(count, ended - contacts_done_at, events_cpu),
            "total": _rate(2 * count, ended - started, cpu),
        }
        method = (
            f"a Celery worker of {SYNC_WORKER_PROCESSES} processes, woken once per "
            "process; one sender per account (advisory lock); sandbox in another process"
        )
        result = {"method": method, "parts": parts, "cpu_cores": cpu}
        if spy is not None:
            result["profile"] = self._spied(spy)
        return result

    def _wait_sent(self, sent_rows, count: int, groups: dict):
        """Polls until every delivery is sent; returns how many were, and when the
        contacts were all sent with the CPU used until then and a window from then."""
        from mappings.models import Category

        deadline = time.monotonic() + 300
        contacts, sent = {}, 0
        window = CpuWindow(groups).start()
        while time.monotonic() < deadline and sent < 2 * count:
            time.sleep(0.05)
            if not contacts:
                done = sent_rows.filter(category=Category.PROFILE).count()
                if done >= count:
                    contacts = {
                        "at": time.monotonic(),
                        "cpu": window.stop(),
                        "window": CpuWindow(groups).start(),
                    }
            sent = sent_rows.count()
        return sent, contacts

    def _spy(self, pid: int):
        """py-spy on the worker's processes until stopped: CPU samples only (--gil),
        or every sample, waits included, with BENCH_SYNC_SPY=--idle."""
        raw = self.env.work / "sync-profile.txt"
        return self.env.children.start(
            [
                str(self.env.bin / "py-spy"),
                "record",
                "--pid",
                str(pid),
                "--subprocesses",
                "--nolineno",
                "--rate",
                "200",
                "--format",
                "raw",
                "--output",
                str(raw),
                os.environ.get("BENCH_SYNC_SPY", "--gil"),
            ],
            log=self.env.work / "py-spy-sync.log",
        )

    def _spied(self, spy) -> list:
        """The frames with the largest inclusive share of the sender's samples."""
        spy.send_signal(signal.SIGINT)  # py-spy writes its samples on Ctrl-C
        try:
            spy.wait(timeout=30)
        except subprocess.TimeoutExpired:
            raise PhaseError("py-spy did not finish") from None
        self.env.children.stop(spy)
        raw = self.env.work / "sync-profile.txt"
        stacks = parse_raw(raw.read_text() if raw.exists() else "")
        # The sender's thread (its event waves go out from it).
        sending = {
            s: n for s, n in stacks.items() if any(m in f for f in s for m in _SENDING)
        }
        total = sum(sending.values()) or 1
        shares = Counter()
        for frames, samples in sending.items():
            for frame in set(frames):
                shares[frame] += samples
        return [
            (frame, n / total)
            for frame, n in shares.most_common(120)
            if n < 0.999 * total  # the frames every sample has say nothing
        ][:60]

    # -- SQL queries -------------------------------------------------------------------

    def count_queries(self) -> dict:
        """SQL statements of one single ingest and one 1,000-item batch."""
        return queries.count_queries(self.env)


def figures(phases: dict, sync: dict, queries: dict) -> dict:
    """The figures the budgets are checked against."""
    bare = phases["bare DRF endpoint"]
    single = phases["single ingest, saturation"]
    half = next(p for n, p in phases.items() if "half" in n)
    batch = phases["batch ingest, 1,000 items"]
    return {
        "bare_requests_per_s": bare["requests_per_s"],
        "bare_cores_used": bare.get("bench_cores"),
        "bare_full_machine": bare.get("full_machine"),
        "single_requests_per_s": single["requests_per_s"],
        "single_vs_bare": round(single["requests_per_s"] / bare["requests_per_s"], 3),
        "single_server_cpu_ms": single["server_cpu_ms_per_request"],
        "single_postgres_cpu_ms": single["postgres_cpu_ms_per_request"],
        "single_saturation_p50_ms": single["p50_ms"],
        "single_saturation_p99_ms": single["p99_ms"],
        "single_half_p50_ms": half["p50_ms"],
        "single_half_p99_ms": half["p99_ms"],
        "single_requests_per_statement": single.get("requests_per_statement"),
        "single_half_requests_per_statement": half.get("requests_per_statement"),
        "batch_100_items_per_s": phases["batch ingest, 100 items"]["items_per_s"],
        "batch_1000_items_per_s": batch["items_per_s"],
        "batch_1000_server_cpu_ms_per_item": batch["server_cpu_ms_per_item"],
        "batch_1000_postgres_cpu_ms_per_item": batch["postgres_cpu_ms_per_item"],
        "sync_deliveries_per_s": sync["parts"]["total"]["deliveries_per_s"],
        "queries_single": max(
            q["count"] for n, q in queries.items() if n.startswith("single")
        ),
        "queries_batch_1000": queries["batch of 1,000 (new)"]["count"],
    }


# -- helpers -------------------------------------------------------------------------------


def _bench_cores(result: dict) -> float:
    """Cores the bench's own processes used: gunicorn (and its database work) + wrk."""
    cpu = result["cpu_cores"]
    return round(cpu["server"] + cpu["postgres"] + cpu["generator"], 2)


def _full_machine(result: dict) -> bool:
    return result["bench_cores"] >= FULL_MACHINE * (os.cpu_count() or 1)


def _parse_server(text: str) -> tuple[str, int, int]:
    kind, _, shape = text.partition(":")
    workers, _, threads = shape.partition("x")
    return kind, int(workers), int(threads or 1)


def _label(config) -> str:
    kind, workers, threads = config
    return f"{kind}:{workers}" + (f"x{threads}" if kind == "gthread" else "")


def _database_now():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        return cursor.fetchone()[0]


def _requests_per_statement(since) -> float | None:
    """Single ingests per statement since ``since``: their log rows over the
    transactions that wrote them (group commit writes several in one; a statement is
    a transaction of its own)."""
    from django.db import connection

    from ingestion.models import RequestLog

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), count(DISTINCT xmin::text) "  # noqa: S608 (names only)
            f"FROM {RequestLog._meta.db_table} WHERE path = %s AND created_at >= %s",
            [SINGLE, since],
        )
        rows, transactions = cursor.fetchone()
    return round(rows / transactions, 2) if transactions else None


def _data_points() -> int:
    from ingestion.models import DataPoint

    return DataPoint.objects.count()


def _rate(count: int, seconds: float, cpu: dict | None = None) -> dict:
    """A part's rate, and with the cores it used, its CPU per delivery by group."""
    rate = round(count / seconds, 1) if seconds > 0 else None
    part = {"deliveries": count, "seconds": round(seconds, 3), "deliveries_per_s": rate}
    if cpu and rate:
        part["cpu_cores"] = cpu
        part["cpu_ms_per_delivery"] = {
            name: round(cpu[name] * 1000 / rate, 3)
            for name in ("worker", "sandbox", "postgres", "machine")
        }
    return part


def _phase_result(
    wrk: dict, cpu: dict, *, size: int, items: int, rows: int, rate
) -> dict:
    seconds = wrk["duration_us"] / 1e6
    requests = wrk["requests"]
    errors = sum(
        wrk[k]
        for k in (
            "connect_errors",
            "read_errors",
            "write_errors",
            "status_errors",
            "timeouts",
        )
    )
    if wrk["status_errors"]:
        raise PhaseError(f"{wrk['status_errors']} responses were not 2xx: {wrk}")
    return {
        "requests": requests,
        "seconds": round(seconds, 2),
        "requests_per_s": round(requests / seconds, 1),
        "items_per_request": items,
        "items_per_s": round(requests * items / seconds, 1),
        "p50_ms": wrk["p50_us"] / 1000,
        "p90_ms": wrk["p90_us"] / 1000,
        "p99_ms": wrk["p99_us"] / 1000,
        "max_ms": wrk["max_us"] / 1000,
        "errors": errors,
        "target_rate": round(rate, 1) if rate else None,
        "pool_size": size,
        "pool_cycled": requests > size,
        "data_points_added": rows,
        "cpu_cores": cpu,
        # CPU per request of the service's own processes: steadier than req/s when
        # other work shares the machine.
        "server_cpu_ms_per_request": _per_request(cpu["server"], requests / seconds),
        "postgres_cpu_ms_per_request": _per_request(
            cpu["postgres"], requests / seconds
        ),
        # The same per item: what a batch costs for each row it carries.
        "server_cpu_ms_per_item": _per_request(
            cpu["server"], requests * items / seconds
        ),
        "postgres_cpu_ms_per_item": _per_request(
            cpu["postgres"], requests * items / seconds
        ),
    }


def _per_request(cores: float, per_second: float) -> float | None:
    return round(cores * 1000 / per_second, 3) if per_second else None


def _brief(result: dict) -> dict:
    keys = ("requests_per_s", "p50_ms", "p99_ms", "errors", "cpu_cores")
    return {k: result[k] for k in keys}
