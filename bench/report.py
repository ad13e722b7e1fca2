"""The table `make bench` prints, with the budgets of issue 11 beside each figure."""

import json
import operator
from pathlib import Path

from bench.files import file_lines
from bench.metrics_cost import metrics_lines

# (key in the figures, what it is, comparison, budget)
BUDGETS = [
    ("single_vs_bare", "single-item ingest / bare DRF (req/s ratio)", ">=", 0.30),
    ("single_half_p99_ms", "single-item ingest p99 at half load (ms)", "<=", 15.0),
    (
        "batch_1000_items_per_s",
        "batch ingest, 1,000-item batches (items/s)",
        ">=",
        12_000,
    ),
    ("sync_deliveries_per_s", "Salesmanago sync (deliveries/s)", ">=", 2_000),
    ("queries_single", "SQL statements per single ingest", "<=", 1),
    ("queries_batch_1000", "SQL statements per 1,000-item batch", "<=", 4),
    ("metrics_overhead_pct", "the metric set's cost on a single ingest (%)", "<=", 3.0),
    (
        "metrics_observe_pct",
        "  its counting call's share of the request (%)",
        "<=",
        3.0,
    ),
]
# Figures that mean something only when the bare phase had the whole machine.
_NEEDS_FULL_MACHINE = {"single_vs_bare"}
_COMPARE = {">=": operator.ge, "<=": operator.le}


def budget_checks(figures: dict) -> list[dict]:
    checks = []
    for key, label, op, budget in BUDGETS:
        value = figures.get(key)
        passed = value is not None and _COMPARE[op](value, budget)
        reliable = key not in _NEEDS_FULL_MACHINE or figures.get("bare_full_machine")
        checks.append(
            {
                "figure": key,
                "label": label,
                "value": value,
                "budget": f"{op} {budget:g}",
                "pass": passed,
                "reliable": bool(reliable),
            }
        )
    return checks


def table(results: dict) -> str:
    """The human-readable report: every phase's figures, then the budgets."""
    lines = [_header(results), ""]
    lines += _phase_table(results["phases"])
    lines += ["", *sync_lines(results.get("sync"))]
    lines += ["", *_query_lines(results.get("queries"))]
    lines += ["", *metrics_lines(results.get("metrics"))]
    lines += ["", *_profile_lines(results.get("profile"))]
    batch = results["phases"].get("batch ingest, 1,000 items", {}).get("items_per_s")
    lines += ["", *file_lines(results.get("files"), batch)]
    lines += ["", *_cpu_lines(results.get("figures", {}))]
    lines += ["", "Budgets (issue 11)"]
    for check in results["budgets"]:
        value = check["value"]
        shown = "-" if value is None else f"{value:,.2f}".rstrip("0").rstrip(".")
        verdict = "PASS" if check["pass"] else "FAIL"
        if not check.get("reliable", True):
            verdict += " (bare phase short of the machine: not meaningful)"
        lines.append(
            f"  {check['label']:<46} {shown:>10}  {check['budget']:<10} {verdict}"
        )
    return "\n".join(lines)


def _header(results: dict) -> str:
    server = results["server"]
    machine = results["machine"]
    note = f"\n{results['note']}" if results.get("note") else ""
    return (
        f"make bench, {results['date']}, commit {results['git_commit'][:10]}"
        f"{' (+ uncommitted changes)' if results['git_dirty'] else ''}, "
        f"{machine['cores']} cores, load average before {machine['load_before']}\n"
        f"server: gunicorn {server['chosen']} (DEBUG off), PostgreSQL, Redis broker"
        f"{note}"
    )


def _phase_table(phases: dict) -> list[str]:
    head = (
        f"  {'phase':<30} {'req/s':>8} {'items/s':>9} {'p50 ms':>7} {'p99 ms':>7}"
        f" {'errors':>6} | CPU ms/req: {'server':>6} {'pg':>5}"
        f" | cores: {'wrk':>4} {'other':>5}"
    )
    lines = [head]
    for name, p in phases.items():
        cpu = p["cpu_cores"]
        lines.append(
            f"  {name:<30} {p['requests_per_s']:>8,.0f} {p['items_per_s']:>9,.0f}"
            f" {p['p50_ms']:>7.1f} {p['p99_ms']:>7.1f} {p['errors']:>6} |"
            f"             {_ms(p['server_cpu_ms_per_request']):>6}"
            f" {_ms(p['postgres_cpu_ms_per_request']):>5} |"
            f"        {cpu['generator']:>4.2f} {cpu['everything_else']:>5.2f}"
        )
    lines.append(
        "  CPU ms/req: gunicorn workers and the bench database's PostgreSQL backends;"
        " cores: wrk (the load generator), and the rest of the machine (Redis, kernel,"
        " other users)"
    )
    return lines


def _ms(value: float | None) -> str:
    """A CPU figure, or "-" when the phase completed no request to divide by."""
    return "-" if value is None else f"{value:.2f}"


def _cpu_lines(figures: dict) -> list[str]:
    """CPU per request and per item: steadier than rates on a shared machine."""
    bare = figures.get("bare_cores_used")
    shown = "-" if bare is None else f"{bare:.2f}"
    return [
        f"Bare phase: the bench's processes used {shown} cores"
        + ("" if figures.get("bare_full_machine") else " (short of the machine)"),
        "CPU per single ingest: server "
        f"{figures.get('single_server_cpu_ms')} ms, PostgreSQL "
        f"{figures.get('single_postgres_cpu_ms')} ms; requests per statement (group "
        f"commit) {figures.get('single_requests_per_statement')} at saturation, "
        f"{figures.get('single_half_requests_per_statement')} at half load",
        "CPU per item in 1,000-item batches: server "
        f"{figures.get('batch_1000_server_cpu_ms_per_item')} ms, PostgreSQL "
        f"{figures.get('batch_1000_postgres_cpu_ms_per_item')} ms",
    ]


def sync_lines(sync: dict | None) -> list[str]:
    """The Salesmanago sync phase: rates, cores used, and CPU per delivery."""
    if not sync:
        return ["Salesmanago sync: not run"]
    lines = [f"Salesmanago sync ({sync['method']}):"]
    for name, part in sync["parts"].items():
        lines.append(
            f"  {name:<10} {part['deliveries']:>7,} sent in {part['seconds']:>6.2f} s"
            f" = {part['deliveries_per_s']:>8,.0f} deliveries/s"
        )
        if part.get("cpu_ms_per_delivery"):
            ms = part["cpu_ms_per_delivery"]
            lines.append(
                "             CPU per delivery: "
                + ", ".join(f"{k} {v:.3f} ms" for k, v in ms.items())
            )
    cpu = sync["cpu_cores"]
    lines.append(
        f"  cores: worker {cpu['worker']:.2f}, sandbox {cpu['sandbox']:.2f}, "
        f"postgres {cpu['postgres']:.2f}, other {cpu['everything_else']:.2f}, "
        f"machine {cpu['machine']:.2f}"
    )
    if sync.get("profile"):
        lines.append("  worker py-spy (share of the sender's samples, top frames):")
        lines += [f"    {share:6.1%} {name}" for name, share in sync["profile"]]
    return lines


def _query_lines(queries: dict | None) -> list[str]:
    if not queries:
        return ["SQL queries: not counted"]
    lines = [
        "SQL queries (CaptureQueriesContext, signed test client, full request path):"
    ]
    for name, q in queries.items():
        checks = (
            f" (+{q['health_checks']} local health check, no round trip)"
            if q["health_checks"]
            else ""
        )
        lines.append(
            f"  {name:<28} {q['count']:>3}  {' '.join(q['statements'])}{checks}"
        )
    return lines


def _profile_lines(profile: dict | None) -> list[str]:
    if not profile:
        return ["Profile: not run"]
    lines = [
        "Where a single-item ingest's time goes (py-spy, share of samples in requests):"
    ]
    for mode in ("cpu", "wall"):
        summary = profile[mode]
        top = _shares(summary.get("components", [])[:6])
        lines.append(f"  {mode:<4} ({summary['samples']} samples): {top}")
        lines.append(f"       across: {_shares(summary.get('libraries', []))}")
    return lines


def _shares(parts: list[dict]) -> str:
    """``name 12%, ...``: each part's share of the profile's samples."""
    return ", ".join(f"{c['name']} {c['share']:.0%}" for c in parts)


def write_json(results: dict, path: Path) -> None:
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
