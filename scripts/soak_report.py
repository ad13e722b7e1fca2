#!/usr/bin/env python3
"""Prints the summary table of a ``make soak`` run from the JSON lines its tests wrote.

Usage: scripts/soak_report.py [var/soak/results.jsonl]

Each line is one test's figures (tests/harness/faults.py ``record_figures``): requests
tried, 5xx seen (and how many of them were clean 503s during an outage), deliveries
expected/sent/duplicated, faults injected and data lost. Fuzzing lines (one per
endpoint) are summed into one row. Standard library only.
"""

import json
import sys
from collections import defaultdict
from pathlib import Path

COLUMNS = [
    ("test", "<"),
    ("requests", ">"),
    ("5xx seen", ">"),
    ("deliveries exp/sent/dup", ">"),
    ("faults", ">"),
    ("lost", ">"),
]
DETAILS = {"test", "requests", "server_errors", "clean_503", "faults", "lost"}
DETAILS |= {"expected", "sent", "duplicated", "endpoint", "statuses"}


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def merge_fuzz(rows: list[dict]) -> list[dict]:
    """One row for all fuzzed endpoints, the others as they are, in run order."""
    fuzz = [r for r in rows if r["test"] == "fuzz"]
    others = [r for r in rows if r["test"] != "fuzz"]
    if not fuzz:
        return others
    statuses: dict[str, int] = defaultdict(int)
    for row in fuzz:
        for status, count in row.get("statuses", {}).items():
            statuses[status] += count
    merged = {
        "test": f"fuzz: {len(fuzz)} endpoints (schemathesis)",
        "requests": sum(r["requests"] for r in fuzz),
        "server_errors": sum(r["server_errors"] for r in fuzz),
        "lost": 0,
        "min_per_endpoint": min(r["requests"] for r in fuzz),
        "statuses": dict(sorted(statuses.items())),
    }
    return [merged, *others]


def cells(row: dict) -> list[str]:
    errors = str(row.get("server_errors", 0))
    if row.get("clean_503"):
        errors += f" ({row['clean_503']} clean 503)"
    deliveries = "-"
    if "expected" in row:
        deliveries = f"{row['expected']}/{row['sent']}/{row['duplicated']}"
    return [
        row["test"],
        str(row.get("requests", 0)),
        errors,
        deliveries,
        str(row.get("faults", 0)),
        str(row.get("lost", 0)),
    ]


def totals(rows: list[dict]) -> list[str]:
    def total(key):
        return sum(r.get(key, 0) for r in rows)

    delivered = [r for r in rows if "expected" in r]
    deliveries = "/".join(
        str(sum(r[k] for r in delivered)) for k in ("expected", "sent", "duplicated")
    )
    errors = f"{total('server_errors')}"
    if total("clean_503"):
        errors += f" ({total('clean_503')} clean 503)"
    return [
        "TOTAL",
        str(total("requests")),
        errors,
        deliveries or "-",
        str(total("faults")),
        str(total("lost")),
    ]


def table(rows: list[dict]) -> str:
    lines = [cells(r) for r in rows] + [totals(rows)]
    header = [name for name, _ in COLUMNS]
    widths = [
        max(len(x) for x in column) for column in zip(header, *lines, strict=True)
    ]

    def fmt(values):
        return (
            "| "
            + " | ".join(
                f"{v:{align}{w}}"
                for v, (_, align), w in zip(values, COLUMNS, widths, strict=True)
            )
            + " |"
        )

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join(
        [fmt(header), rule, *(fmt(v) for v in lines[:-1]), rule, fmt(lines[-1])]
    )


def details(rows: list[dict]) -> str:
    out = []
    for row in rows:
        extra = {k: v for k, v in row.items() if k not in DETAILS}
        if row.get("statuses"):
            extra["statuses"] = row["statuses"]
        if extra:
            shown = ", ".join(f"{k}={v}" for k, v in extra.items())
            out.append(f"- {row['test']}: {shown}")
    return "\n".join(out)


def main(argv: list[str]) -> int:
    path = Path(argv[1] if len(argv) > 1 else "var/soak/results.jsonl")
    if not path.exists():
        print(f"soak report: {path} does not exist (no test recorded figures)")
        return 1
    rows = merge_fuzz(load(path))
    print("\nSoak summary (5xx seen counts every 5xx; clean 503s are the answers")
    print("expected while PostgreSQL is down):\n")
    print(table(rows))
    print("\nDetails:")
    print(details(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
