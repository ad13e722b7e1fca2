"""The data health page at ten million request-log rows: seed, roll up, time the page.

    python -m bench.health [--rows 10000000] [--keep]

Runs against a database of its own (``health_bench`` on BENCH_PG_ADMIN_URL's server,
created here and dropped at the end unless --keep), never the test run's. Seeds 30 days
of request-log rows for 20 customers (the demo customer has 40 % of them, 5 % rejected
with one of 20 messages), rolls them up as the beat task would (first the 30 days at
once, then one more minute as in steady state), and times the demo customer's health
page through Django's test client: cold (a new connection, first render) and warm
(the median of the next runs). For comparison it times one aggregate over the raw log
(what the page would cost without the rollup). Prints the figures.
"""

import argparse
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_ADMIN_URL = os.environ.get(
    "BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
DATABASE = os.environ.get("BENCH_HEALTH_DATABASE", "health_bench")
CUSTOMERS = 20
CHUNK = 1_000_000
WARM_RUNS = 10

# One INSERT ... SELECT per chunk: the rows never cross the wire.
SEED = """
INSERT INTO ingestion_requestlog (request_id, customer_id, access_key_id, environment,
    method, path, type_name, mapping_version, status_code, messages, datatalks_id,
    duration_ms, created_at)
SELECT gen_random_uuid(),
       CASE WHEN r.c < 0.4 THEN %(demo)s
            ELSE (%(others)s::bigint[])[1 + floor(random() * %(n_others)s)::int] END,
       'DTBENCHKEY0000000001', 'production', 'POST', '/v2/profiles',
       (ARRAY['person', 'purchase_ev', 'product_a'])[1 + floor(random() * 3)::int], 1,
       CASE WHEN r.bad THEN 400 ELSE 200 END,
       CASE WHEN r.bad THEN jsonb_build_array(
           'data.field_' || floor(random() * 20)::int || ': is required')
            ELSE '[]'::jsonb END,
       CASE WHEN r.bad THEN NULL ELSE gen_random_uuid() END,
       random() * 20,
       now() - random() * interval '30 days'
FROM (SELECT random() AS c, random() < 0.05 AS bad
      FROM generate_series(1, %(rows)s)) AS r
"""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    args = parser.parse_args(argv)
    _create_database()
    try:
        _setup_django()
        figures = run(args.rows)
    finally:
        if not args.keep:
            _drop_database()
    print_figures(figures)
    return 0


def _create_database() -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')


def _drop_database() -> None:
    from django.db import connections

    connections.close_all()
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


def _setup_django() -> None:
    host = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgres://")
    os.environ.update(
        DJANGO_SETTINGS_MODULE="datatalks.settings",
        DATABASE_URL=f"{host}/{DATABASE}",
        REDIS_URL="",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DATATALKS_ENCRYPTION_KEY="dGVzdHMtb25seS1lbmNyeXB0aW9uLWtleS0zMmJ5dGU=",
        DJANGO_LOG_LEVEL="WARNING",
    )
    import django

    django.setup()


def timed(function, *args, **kwargs) -> tuple[float, object]:
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - started, result


def run(rows: int) -> dict:
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    demo, others = _customers()
    figures = {"rows": rows, "customers": CUSTOMERS}
    figures["seed_s"] = _seed(rows, demo.pk, [c.pk for c in others])
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE ingestion_requestlog")
        cursor.execute(
            "SELECT count(*) FROM ingestion_requestlog WHERE customer_id = %s",
            [demo.pk],
        )
        figures["demo_rows"] = cursor.fetchone()[0]
    figures["raw_30d_aggregate_s"] = _raw_aggregate(demo)
    figures.update(_rollups(demo))
    figures.update(_page(demo))
    return figures


def _customers():
    from integrations.demo import salesmanago_demo_load
    from mappings.demo import demo_load
    from mappings.models import Customer

    demo = demo_load()
    salesmanago_demo_load(demo)
    others = [
        Customer.objects.create(name=f"Customer {n:02}", slug=f"c{n:02}")
        for n in range(1, CUSTOMERS)
    ]
    return demo, others


def _seed(rows: int, demo_id: int, other_ids: list[int]) -> float:
    from django.db import connection

    started = time.perf_counter()
    done = 0
    with connection.cursor() as cursor:
        # Indexes are built once after the load: maintaining them row by row (a random
        # UUID primary key above all) is most of the cost of a load this size.
        cursor.execute("SET synchronous_commit = off")
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes "
            "WHERE tablename = 'ingestion_requestlog'"
        )
        indexes = cursor.fetchall()
        for name, _ in indexes:
            if name.endswith("_pkey"):
                cursor.execute(
                    f'ALTER TABLE ingestion_requestlog DROP CONSTRAINT "{name}"'
                )
            else:
                cursor.execute(f'DROP INDEX "{name}"')
    while done < rows:
        chunk = min(CHUNK, rows - done)
        with connection.cursor() as cursor:
            cursor.execute(
                SEED,
                {
                    "demo": demo_id,
                    "others": other_ids,
                    "n_others": len(other_ids),
                    "rows": chunk,
                },
            )
        done += chunk
        print(
            f"seeded {done:,} rows ({time.perf_counter() - started:.0f} s)", flush=True
        )
    with connection.cursor() as cursor:
        for name, definition in indexes:
            if name.endswith("_pkey"):
                cursor.execute(
                    f'ALTER TABLE ingestion_requestlog ADD CONSTRAINT "{name}" '
                    "PRIMARY KEY (request_id)"
                )
            else:
                cursor.execute(definition)
    print(f"indexes built ({time.perf_counter() - started:.0f} s)", flush=True)
    return time.perf_counter() - started


def _raw_aggregate(demo) -> float:
    """What one 30-day chart would cost read from the log itself."""
    from datetime import timedelta

    from django.db.models import Count
    from django.utils import timezone

    from ingestion.models import RequestLog

    seconds, _ = timed(
        lambda: list(
            RequestLog.objects.filter(
                customer=demo, created_at__gte=timezone.now() - timedelta(days=30)
            )
            .values("type_name", "status_code")
            .annotate(n=Count("pk"))
            .order_by()
        )
    )
    return seconds


def _rollups(demo) -> dict:
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from ingestion.rollups import requestlog_rollup

    catch_up, read = timed(requestlog_rollup)
    # One more minute of traffic at 1,000 requests a second, then a steady-state run.
    minute = 60_000
    with connection.cursor() as cursor:
        cursor.execute(
            SEED.replace(
                "now() - random() * interval '30 days'",
                "now() - random() * interval '20 seconds'",
            ),
            {"demo": demo.pk, "others": [demo.pk], "n_others": 1, "rows": minute},
        )
    steady, steady_read = timed(
        requestlog_rollup, until=timezone.now() + timedelta(seconds=1)
    )
    return {
        "rollup_catch_up_s": catch_up,
        "rollup_catch_up_rows": read,
        "rollup_minute_s": steady,
        "rollup_minute_rows": steady_read,
    }


def _page(demo) -> dict:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    user = get_user_model().objects.create_superuser("bench", "b@example.com", "pw")
    client = Client()
    client.force_login(user)
    url = reverse("admin:mappings_customer_health", args=[demo.pk])
    queries = []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    connection.close()
    with connection.execute_wrapper(count):
        cold, response = timed(client.get, url)
    assert response.status_code == 200, response.status_code
    warm = [timed(client.get, url)[0] for _ in range(WARM_RUNS)]
    return {
        "page_cold_s": cold,
        "page_warm_median_s": statistics.median(warm),
        "page_warm_max_s": max(warm),
        "page_queries": len(queries),
    }


def print_figures(figures: dict) -> None:
    print()
    print(
        f"Data health page at {figures['rows']:,} request-log rows "
        f"({figures['customers']} customers; the demo customer has "
        f"{figures['demo_rows']:,}), {os.cpu_count()} cores"
    )
    rows = [
        ("seed (INSERT ... SELECT)", f"{figures['seed_s']:.1f} s"),
        (
            "raw 30-day aggregate over the log (for comparison)",
            f"{figures['raw_30d_aggregate_s'] * 1000:.0f} ms",
        ),
        (
            f"rollup, first run ({figures['rollup_catch_up_rows']:,} rows, 30 days)",
            f"{figures['rollup_catch_up_s']:.1f} s",
        ),
        (
            f"rollup, one minute at 1,000 req/s ({figures['rollup_minute_rows']:,} rows)",
            f"{figures['rollup_minute_s'] * 1000:.0f} ms",
        ),
        (
            "health page, cold (new connection, first render)",
            f"{figures['page_cold_s'] * 1000:.0f} ms",
        ),
        (
            f"health page, warm (median of {WARM_RUNS})",
            f"{figures['page_warm_median_s'] * 1000:.0f} ms",
        ),
        ("health page, warm (slowest)", f"{figures['page_warm_max_s'] * 1000:.0f} ms"),
        ("SQL queries per page", str(figures["page_queries"])),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"  {name:<{width}}  {value:>10}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
