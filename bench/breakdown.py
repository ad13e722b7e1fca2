"""Where one ingest request's time goes, step by step, measured in-process.

Runs the real request path (middleware, SigV4, DRF, services, PostgreSQL, Redis) through
Django's test client against a fresh ``bench`` database, with a timer around each step:
wall time and this thread's CPU time, per request. It complements py-spy's sampling in
`make bench` with exact per-step costs, and is how PROFILE.md's figures were measured.

    .venv/bin/python -m bench.breakdown [--requests 500] [--batch 1000]
"""

import argparse
import functools
import gc
import importlib
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import pool  # noqa: E402
from bench.env import BenchEnv, measure_once  # noqa: E402

# (label, module, attribute): each is timed where the request path looks it up.
STEPS = [
    (
        "health check (socket look)",
        "django.db.backends.postgresql.base",
        "DatabaseWrapper.is_usable",
    ),
    ("JSON parsing", "ingestion.parsers", "ApiJSONParser.parse"),
    (
        "SigV4: key (process cache; query on a miss)",
        "ingestion.auth",
        "credential_for_access_key",
    ),
    ("SigV4: signature check", "ingestion.sigv4", "verify"),
    (
        "rate limit (counted in the process)",
        "ingestion.throttling",
        "count_request",
    ),
    ("compiled mapping lookup", "ingestion.services", "spec_for_customer"),
    ("validation", "ingestion.services", "validate_body"),
    ("write: building the statement", "ingestion.writes", "_statement"),
    ("write: the one statement (round trip)", "ingestion.writes", "_execute"),
    ("Celery enqueue (Redis)", "ingestion.writes", "wake_accounts"),
    (
        "request log INSERT (batches, refusals)",
        "ingestion.apiview",
        "request_log_write",
    ),
]


class Timers:
    def __init__(self) -> None:
        self.wall: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.active = False

    def wrap(self, label: str, func):
        @functools.wraps(func)
        def timed(*args, **kwargs):
            if not self.active:
                return func(*args, **kwargs)
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                return func(*args, **kwargs)
            finally:
                self.wall[label] += time.perf_counter() - wall
                self.cpu[label] += time.thread_time() - cpu
                self.calls[label] += 1

        return timed

    def install(self) -> None:
        for label, module_name, attribute in STEPS:
            owner = importlib.import_module(module_name)
            *path, name = attribute.split(".")
            for part in path:
                owner = getattr(owner, part)
            setattr(owner, name, self.wrap(label, getattr(owner, name)))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--batch", type=int, default=0, help="items per batch request")
    parser.add_argument(
        "--gc-freeze", action="store_true", help="gc.freeze() after the warm-up"
    )
    args = parser.parse_args(argv)

    def measured(env: BenchEnv) -> str:
        timers = measure(env, args.requests, args.batch, gc_freeze=args.gc_freeze)
        return report(timers, args.requests, args.batch)

    return measure_once(ROOT, "bench-breakdown", measured)


def measure(env: BenchEnv, count: int, batch: int, *, gc_freeze: bool) -> Timers:
    from django.test import Client

    from bench.queries import signed_test_post

    client = Client()
    signer = pool.Signer("http://testserver", env.key, env.secret, **pool.scope())
    path = "/v3/profiles/batch" if batch else "/v3/profiles"

    def bodies(n):
        if batch:
            return pool.batch_bodies(n, batch)
        return pool.single_bodies(n)

    def post(body):
        response = signed_test_post(client, signer, path, body)
        assert response.status_code == 200, response.content[:500]

    for body in bodies(max(20, count // 10)):  # warm caches and connections
        post(body)
    if gc_freeze:
        gc.freeze()
    timers = Timers()
    timers.install()
    total = timers.wrap("whole request (test client)", post)
    bare = timers.wrap("bare DRF endpoint (test client)", client.post)
    for body in pool.single_bodies(count):
        timers.active = True
        bare("/bench/bare", data=body, content_type="application/json")
        timers.active = False
    for body in list(bodies(count)):
        timers.active = True
        total(body)
        timers.active = False
    return timers


def report(timers: Timers, count: int, batch: int) -> str:
    whole = "whole request (test client)"
    title = f"batch of {batch}" if batch else "single-item ingest"
    lines = [
        f"{title}: {count} requests, per request (ms); share of the whole request's wall",
        f"  {'step':<36} {'wall':>7} {'cpu':>7} {'share':>6} {'calls':>6}",
    ]
    order = [whole, "bare DRF endpoint (test client)"] + [label for label, *_ in STEPS]
    steps_wall = sum(timers.wall[label] for label, *_ in STEPS)
    for label in order:
        wall, cpu = timers.wall[label] / count * 1000, timers.cpu[label] / count * 1000
        share = timers.wall[label] / timers.wall[whole] if timers.wall[whole] else 0
        lines.append(
            f"  {label:<36} {wall:>7.3f} {cpu:>7.3f} {share:>6.1%}"
            f" {timers.calls[label] / count:>6.1f}"
        )
    rest = (timers.wall[whole] - steps_wall) / count * 1000
    rest_cpu = (
        (timers.cpu[whole] - sum(timers.cpu[s] for s, *_ in STEPS)) / count * 1000
    )
    lines.append(
        f"  {'everything else (Django, DRF, ORM glue)':<36} {rest:>7.3f} {rest_cpu:>7.3f}"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
