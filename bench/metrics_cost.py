"""The metric set's cost on a single ingest, measured both ways in the same run.

Single ingests go through the real request path (middleware, SigV4, DRF, services,
PostgreSQL, Redis) with Django's test client, in blocks that alternate between the
metrics counted (``ingestion.apiview.request_observe``, as production runs it, in
prometheus-client's multiprocess mode) and not counted (the call replaced by a no-op),
so the machine's other load falls on both alike. The figure is the median of the
adjacent blocks' ratios of this thread's CPU time per request (what counting costs is
Python work in this thread; CPU time is steadier than wall time on a shared machine,
and leaving PostgreSQL's share out of the denominator only makes the figure larger);
beside it, the wall times and the counting call's own time inside the requests.

    .venv/bin/python -m bench.metrics_cost [--rounds 80] [--per-round 50]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import pool  # noqa: E402
from bench.env import BenchEnv, measure_once  # noqa: E402
from bench.queries import signed_test_post  # noqa: E402

# 80 rounds of paired blocks: with 20 the median moved between +1.8 % and +3.1 % on a
# quiet machine (a 35 us difference on 1.75 ms); with 80 it settles (+1.7 %), 30 s.
ROUNDS = 80
PER_ROUND = 50


def metrics_cost(env, *, rounds: int = ROUNDS, per_round: int = PER_ROUND) -> dict:
    """Per-request wall time of single ingests with and without the metric set."""
    from django.test import Client
    from prometheus_client import values

    from ingestion import apiview

    signer = pool.Signer("http://testserver", env.key, env.secret, **pool.scope())
    client = Client()
    bodies = pool.single_bodies((rounds * 2 + 1) * per_round)
    counted = apiview.request_observe
    inside = [0.0, 0]  # seconds in the counting call, calls

    def timed(**kwargs):
        started = time.perf_counter()
        counted(**kwargs)
        inside[0] += time.perf_counter() - started
        inside[1] += 1

    def block(observe) -> tuple[float, float]:
        apiview.request_observe = observe
        wall, cpu = time.perf_counter(), time.thread_time()
        for _ in range(per_round):
            pool.check_accepted(
                signed_test_post(client, signer, "/v3/profiles", next(bodies)), 1
            )
        cpu = time.thread_time() - cpu
        return (time.perf_counter() - wall) / per_round, cpu / per_round

    try:
        block(counted)  # warms caches and connections
        on, off = [], []
        for n in range(rounds):
            # Alternate which goes first, so a trend in the load favours neither.
            if n % 2:
                off.append(block(_not_counted))
                on.append(block(timed))
            else:
                on.append(block(timed))
                off.append(block(_not_counted))
    finally:
        apiview.request_observe = counted
    ratios = [a[1] / b[1] for a, b in zip(on, off, strict=True)]
    per_request = inside[0] / max(1, inside[1])
    wall_on = statistics.median(w for w, _ in on)
    return {
        "requests": 2 * rounds * per_round,
        "multiprocess": values.ValueClass.__name__ != "MutexValue",
        "with_metrics_ms": round(wall_on * 1000, 3),
        "without_metrics_ms": round(statistics.median(w for w, _ in off) * 1000, 3),
        "with_metrics_cpu_ms": round(statistics.median(c for _, c in on) * 1000, 3),
        "without_metrics_cpu_ms": round(statistics.median(c for _, c in off) * 1000, 3),
        "overhead_pct": round((statistics.median(ratios) - 1) * 100, 2),
        "observe_us": round(per_request * 1e6, 1),
        "observe_pct": round(per_request / wall_on * 100, 2),
    }


def _not_counted(**kwargs) -> None:
    return None


def metrics_lines(result: dict | None) -> list[str]:
    if not result:
        return []
    mode = "multiprocess" if result["multiprocess"] else "single-process"
    return [
        f"Metric set on a single ingest ({mode} mode, {result['requests']} requests, "
        "test client, alternating blocks):",
        f"  CPU of the request's thread: with metrics {result['with_metrics_cpu_ms']:.3f}"
        f" ms/request, without {result['without_metrics_cpu_ms']:.3f} ms: "
        f"{result['overhead_pct']:+.2f} % (median of paired blocks)",
        f"  wall: with {result['with_metrics_ms']:.3f} ms, without "
        f"{result['without_metrics_ms']:.3f} ms; the counting call itself "
        f"{result['observe_us']:.1f} us = {result['observe_pct']:.2f} % of a request",
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--per-round", type=int, default=PER_ROUND)
    args = parser.parse_args(argv)

    def measured(env: BenchEnv) -> str:
        result = metrics_cost(env, rounds=args.rounds, per_round=args.per_round)
        return "\n".join(metrics_lines(result))

    return measure_once(ROOT, "bench-metrics", measured)


if __name__ == "__main__":
    sys.exit(main())
