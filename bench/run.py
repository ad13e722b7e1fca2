"""`make bench`: the service as production runs it, under load, in one run.

Starts gunicorn (DEBUG off) on a free port with its own PostgreSQL database (``bench``,
created, migrated, demo loaded, dropped at the end), Redis DB 7 as broker, and the
Salesmanago sandbox; drives it with wrk and requests pre-signed by botocore; prints a
table with the budgets of issue 7 and writes it to bench/results.json. Every process
and the database are cleaned up at the end, also on Ctrl-C or failure.

    .venv/bin/python -m bench.run [--duration 10] [--quick] [--note TEXT]
"""

import argparse
import os
import shutil
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import phases  # noqa: E402 (needs ROOT on sys.path)
from bench.env import BenchEnv, missing_tools  # noqa: E402
from bench.report import budget_checks, table, write_json  # noqa: E402

RESULTS = ROOT / "bench" / "results.json"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--duration", type=float, default=10.0, help="seconds per measured phase"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="2-second phases: checks the tool, not the service",
    )
    parser.add_argument("--note", default="", help="a label stored with the results")
    parser.add_argument(
        "--server", help="skip the worker comparison, e.g. sync:3 or gthread:2x4"
    )
    parser.add_argument("--no-profile", action="store_true", help="skip py-spy")
    parser.add_argument("--output", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.quick:
        args.duration = 2.0
    problems = missing_tools(profile=not args.no_profile)
    if problems:
        print("make bench cannot run:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 2
    # Ctrl-C, SIGTERM and a closed terminal all clean up; SIGINT is set explicitly
    # because a shell starts background jobs with it ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    env = BenchEnv(ROOT)
    try:
        results = run(env, args)
    except KeyboardInterrupt:
        print("\nmake bench: interrupted; cleaning up", file=sys.stderr)
        return 130
    finally:
        env.cleanup()
    write_json(results, args.output)
    print(table(results))
    print(f"\nwritten to {args.output}")
    return 0


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def run(env: BenchEnv, args) -> dict:
    started = time.monotonic()
    load_before = [round(x, 2) for x in os.getloadavg()]
    env.prepare()
    bench = phases.Phases(env, duration=args.duration, quick=args.quick)
    server = bench.choose_server(args.server)
    results_phases = bench.load_phases()
    profile = None if args.no_profile else bench.profile()
    sync = bench.sync()
    queries = bench.count_queries()
    figures = phases.figures(results_phases, sync, queries)
    results = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": env.git("rev-parse", "HEAD"),
        "git_dirty": bool(env.git("status", "--porcelain", "--untracked-files=no")),
        "note": args.note,
        "machine": {
            "cores": os.cpu_count(),
            "cpu": _cpu_model(),
            "load_before": load_before,
            "wrk": shutil.which("wrk"),
        },
        "settings": {"duration_s": args.duration, "quick": args.quick},
        "server": server,
        "phases": results_phases,
        "sync": sync,
        "queries": queries,
        "figures": figures,
        "budgets": budget_checks(figures),
        "profile": profile,
        "run_seconds": round(time.monotonic() - started, 1),
    }
    return results


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


if __name__ == "__main__":
    sys.exit(main())
