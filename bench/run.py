"""`make bench`: the service as production runs it, under load, in one run.

Starts gunicorn (DEBUG off) on a free port with its own PostgreSQL database (``bench``,
created, migrated, demo loaded, dropped at the end), Redis DB 7 as broker, and the
Salesmanago sandbox; drives it with wrk and requests pre-signed by botocore; prints a
table with the budgets of issue 7 and writes it to bench/results.json. Every process
and the database are cleaned up at the end, also on Ctrl-C or failure.

    .venv/bin/python -m bench.run [--duration 10] [--quick] [--note TEXT]
"""

import argparse
import json
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

from bench import files, phases, pool  # noqa: E402 (needs ROOT on sys.path)
from bench.env import BenchEnv, missing_tools  # noqa: E402
from bench.metrics_cost import metrics_cost  # noqa: E402
from bench.report import budget_checks, sync_lines, table, write_json  # noqa: E402

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
    parser.add_argument(
        "--file-rows", type=int, help="rows of the files phase (default 1,000,000)"
    )
    parser.add_argument(
        "--only-files", action="store_true", help="run the files phase alone"
    )
    parser.add_argument(
        "--only-sync", action="store_true", help="run the Salesmanago sync phase alone"
    )
    parser.add_argument(
        "--sync-count",
        type=int,
        help="contacts (and as many events) of the sync phase (default 10,000; "
        "1,000 with --quick)",
    )
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
    if args.only_files:
        write_json(_merged(args.output, results, "files_only"), args.output)
        print("\n".join(files.file_lines(results["files"], None)))
    elif args.only_sync:
        write_json(_merged(args.output, results, "sync_only"), args.output)
        print("\n".join(sync_lines(results["sync"])))
    else:
        write_json(results, args.output)
        print(table(results))
    print(f"\nwritten to {args.output}")
    return 0


def _merged(path: Path, partial: dict, key: str) -> dict:
    """The last full run's results with this one-phase run beside them, as ``key``."""
    try:
        results = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        results = {}
    results[key] = partial
    return results


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def run(env: BenchEnv, args) -> dict:
    started = time.monotonic()
    load_before = [round(x, 2) for x in os.getloadavg()]
    env.prepare()
    if args.only_files:
        return _files_only(env, args, started, load_before)
    if args.only_sync:
        return _sync_only(env, args, started, load_before)
    bench = phases.Phases(
        env, duration=args.duration, quick=args.quick, sync_count=args.sync_count
    )
    server = bench.choose_server(args.server)
    results_phases = bench.load_phases()
    profile = None if args.no_profile else bench.profile()
    sync = bench.sync()
    queries = bench.count_queries()
    metrics = metrics_cost(
        env, **({"rounds": 4, "per_round": 25} if args.quick else {})
    )
    # Last: it adds a million data points and their outbox rows.
    files_result = _files(env, args, bench.url)
    figures = phases.figures(results_phases, sync, queries)
    figures["metrics_overhead_pct"] = metrics["overhead_pct"]
    figures["metrics_observe_pct"] = metrics["observe_pct"]
    figures["files_rows_per_s"] = files_result["rows_per_s"]
    figures["files_worker_peak_rss_mb"] = files_result["memory"]["worker"].get(
        "peak_rss_mb"
    )
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
        "metrics": metrics,
        "figures": figures,
        "budgets": budget_checks(figures),
        "profile": profile,
        "files": files_result,
        "run_seconds": round(time.monotonic() - started, 1),
    }
    return results


def _files(env: BenchEnv, args, url: str) -> dict:
    rows = args.file_rows or (files.QUICK_ROWS if args.quick else files.FILE_ROWS)
    return files.FilesPhase(env, url, rows=rows, scope=pool.scope()).run()


def _files_only(env: BenchEnv, args, started: float, load_before) -> dict:
    """`--only-files`: the files phase alone, on gunicorn sync:3, in results.json
    under "files_only" so a full run's figures are kept."""
    url = env.start_server("sync", 3, 1)
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": env.git("rev-parse", "HEAD"),
        "note": args.note,
        "machine": {"cores": os.cpu_count(), "load_before": load_before},
        "files": _files(env, args, url),
        "run_seconds": round(time.monotonic() - started, 1),
    }


def _sync_only(env: BenchEnv, args, started: float, load_before) -> dict:
    """`--only-sync`: the Salesmanago sync phase alone (its data ingested by gunicorn
    sync:3), in results.json under "sync_only"; with py-spy on the worker unless
    --no-profile."""
    bench = phases.Phases(
        env, duration=args.duration, quick=args.quick, sync_count=args.sync_count
    )
    bench.choose_server("sync:3")
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": env.git("rev-parse", "HEAD"),
        "git_dirty": bool(env.git("status", "--porcelain", "--untracked-files=no")),
        "note": args.note,
        "machine": {"cores": os.cpu_count(), "load_before": load_before},
        "sync": bench.sync(profile=not args.no_profile),
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "run_seconds": round(time.monotonic() - started, 1),
    }


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


if __name__ == "__main__":
    sys.exit(main())
