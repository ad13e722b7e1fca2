"""Faults under load, with real servers of the test's own: PostgreSQL restarted, Redis
stopped, Salesmanago slow, workers killed. Each test states what it tried and what was
lost (the answer must be nothing), and ``make soak`` prints their figures.

The short variants run in ``make test`` in seconds; the ``slow`` ones in ``make soak``.
"""

import random
import re
import threading
import time
import uuid

import pytest

from datatalks.api import UNAVAILABLE
from ingestion.credentials import credential_create
from integrations.demo import demo_account_fields
from integrations.models import Delivery, SalesmanagoAccount
from integrations.salesmanago.sandbox import (
    SandboxServer,
)
from integrations.services import account_deliver, deliveries_replay
from tests.harness.customers import demo_person, demo_purchase, signed_client
from tests.harness.delivery import Worker
from tests.harness.faults import (
    Gunicorn,
    Load,
    ReadinessProbe,
    api_key_in,
    json_log_lines,
    manage,
    percentile,
    record_figures,
    send,
    server_env,
    shared_test_database_url,
)
from tests.harness.processes import wait_for
from tests.harness.signing import signed_session

pytestmark = pytest.mark.django_db(transaction=True)


def short_and_soak(short: tuple[str, dict], soak: tuple[str, dict]):
    """Parametrizes a fault test with its short run (make test) and its long one
    (make soak, marked slow): each the name its figures are recorded under and the
    keyword arguments of the test's run_* function."""
    return pytest.mark.parametrize(
        "test, load",
        [
            pytest.param(*short, id="short"),
            pytest.param(*soak, id="soak", marks=pytest.mark.slow),
        ],
    )


def profile(n: int, tag: str = "f") -> dict:
    """A valid v3 profile of the demo customer with its own Hard-ID and email."""
    return demo_person(n, tag)


# -- PostgreSQL restarted under load -----------------------------------------------------


def is_clean_503(outcome) -> bool:
    """A 503 in the envelope with a requestId and the retry message, no internals."""
    body = outcome.body or {}
    return (
        outcome.status == 503
        and body.get("success") is False
        and body.get("messages") == [UNAVAILABLE]
        and uuid.UUID(body.get("requestId") or "0" * 32).version == 4
    )


def run_postgres_restarts(
    pg, redis, servers, tmp_path, *, count, pause, outages: list[tuple[str, float]]
):
    # A summary line each second while PostgreSQL is down (a minute in production).
    env = server_env(pg.url, redis.url, DATATALKS_OUTAGE_SUMMARY_SECONDS="1")
    manage(env, "migrate", "--no-input")
    manage(env, "load_demo")
    key, secret = api_key_in(env)
    api = servers(Gunicorn(env, tmp_path / "gunicorn.log"))
    probe = ReadinessProbe(api.url).start()
    load = Load(
        api.url + "/v3/profiles",
        key,
        secret,
        profile,
        count,
        threads=4,
        pause=pause,
        max_seconds=300,
    )
    running = load.start()
    for n, (mode, seconds) in enumerate(outages, start=1):
        # Each outage starts once its share of the load has been answered.
        wait_for(
            lambda n=n: len(load.outcomes) >= count * n // (len(outages) + 1),
            120,
            "the load to progress",
        )
        pg.stop(mode)
        time.sleep(seconds)
        pg.start()
    back = time.monotonic()
    running.join(400)
    # Recovery is by itself: the same server processes answer once PostgreSQL is back.
    after = send(signed_session(key, secret), api.url + "/v3/profiles", profile(0))
    time.sleep(1.0)  # a probe or more after the last request
    return load.outcomes, after, api, probe.stop(), back


def check_postgres_restarts(
    pg, outcomes, after, api, probes, back, *, test, outages: int
):
    stored = dict(pg.query("SELECT id::text, hard_id FROM ingestion_datapoint"))
    accepted = [o for o in outcomes if o.status == 200]
    lost = [o for o in accepted if o.body["datatalksId"] not in stored]
    unclean = [o for o in outcomes if o.status != 200 and not is_clean_503(o)]
    record_figures(
        test,
        requests=len(outcomes) + 1,
        server_errors=sum((o.status or 500) >= 500 for o in outcomes),
        clean_503=sum(is_clean_503(o) for o in outcomes),
        faults=outages,
        accepted=len(accepted),
        lost=len(lost),
    )
    assert not unclean, [(o.status, o.body, o.error) for o in unclean[:5]]
    assert any(is_clean_503(o) for o in outcomes), "no request met the outage"
    assert not lost, f"{len(lost)} accepted requests are not in the database"
    assert after.status == 200, (after.status, after.body)
    # Faults of ours are not in the log, nor any traceback: one line per request the
    # outage refused (with its requestId), a summary while it lasts, one when it ends.
    assert "Internal Server Error" not in api.log_text()
    assert "unhandled error" not in api.log_text()
    assert "Traceback" not in api.log_text()
    check_outage_lines(json_log_lines(api.log_text()), outcomes)
    # The balancer's view: not ready during the outage, ready again after it.
    statuses = [status for _, status in probes]
    assert 503 in statuses, statuses
    assert statuses[-1] == 200, statuses
    # A second after PostgreSQL is back, every request is answered 200 again.
    tail = [o for o in outcomes if o.started > back + 1.0]
    assert tail and all(o.status == 200 for o in tail), [o.status for o in tail]


def check_outage_lines(lines: list[dict], outcomes) -> None:
    refused = {o.body["requestId"] for o in outcomes if is_clean_503(o)}
    failed = [
        line
        for line in lines
        if line["message"].startswith("PostgreSQL unavailable (")
        and line["message"].endswith("POST /v3/profiles answered 503")
    ]
    assert sorted(line["request_id"] for line in failed) == sorted(refused)
    assert not [line for line in lines if "exception" in line]
    assert not [line for line in lines if line.get("status_code") == 503]
    summaries = [line for line in lines if "still unavailable" in line["message"]]
    assert summaries, "no summary line during the outage"
    assert any(" is back after " in line["message"] for line in lines)


@short_and_soak(
    ("postgres restart", {"count": 300, "pause": 0.08, "outages": [("fast", 1.5)]}),
    (
        "postgres restart/crash (soak)",
        {
            "count": 4000,
            "pause": 0.05,
            "outages": [
                ("fast", 5.0),
                ("immediate", 5.0),
                ("fast", 2.0),
                ("immediate", 8.0),
            ],
        },
    ),
)
def test_postgres_restarts_under_load(
    private_postgres, private_redis, servers, tmp_path, test, load
):
    *results, back = run_postgres_restarts(
        private_postgres, private_redis, servers, tmp_path, **load
    )
    check_postgres_restarts(
        private_postgres, *results, back, test=test, outages=len(load["outages"])
    )


# -- Redis stopped under load ------------------------------------------------------------


def delivery_statuses() -> dict[str, int]:
    counts: dict[str, int] = {}
    for status in Delivery.objects.values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return counts


def probe_rate_limit(session, url: str, limit: int, start: int, processes: int) -> list:
    """Sends until the first 429, at most two windows' worth (a minute may turn). A
    window's worth is what the processes may admit before one learns the others'
    counts (ingestion/throttling.py): up to the limit each, then one more."""
    outcomes = []
    for n in range(start, start + 2 * (processes * limit + 1)):
        outcomes.append(send(session, url, profile(n)))
        if outcomes[-1].status == 429:
            break
    return outcomes


def run_redis_outage(
    account, sandbox, redis, servers, tmp_path, *, limit, during, threads
):
    customer = account.customer
    customer.rate_limit_per_minute = limit
    customer.save()
    credential, secret = credential_create(customer=customer, description="faults")
    env = server_env(shared_test_database_url(), redis.url)
    api = servers(Gunicorn(env, tmp_path / "gunicorn.log", workers=threads))
    servers(Worker(redis.url, tmp_path / "worker.log"))
    url = api.url + "/v3/profiles"
    session = signed_session(credential.access_key_id, secret)
    before = probe_rate_limit(session, url, limit, 1, threads)
    redis.stop()
    load = Load(
        url,
        credential.access_key_id,
        secret,
        lambda n: profile(100_000 + n),
        during,
        threads=threads,
        max_seconds=240,
    )
    outage = load.run()
    redis.start()
    # The limiter leaves Redis alone for 5 s after an error, then counts again.
    time.sleep(6)
    after = probe_rate_limit(session, url, limit, 200_000, threads)
    return before, outage, after, api


def check_redis_outage(sandbox, before, outage, after, api, *, test: str):
    accepted = {
        o.body["datatalksId"] for o in before + outage + after if o.status == 200
    }
    back = time.monotonic()
    wait_for(
        lambda: delivery_statuses() == {"sent": len(accepted)},
        180,
        f"{len(accepted)} deliveries after Redis came back",
    )
    caught_up = time.monotonic() - back
    received = sandbox.state()
    emails = [c["email"] for c in received["contacts"]]
    record_figures(
        test,
        requests=len(before) + len(outage) + len(after),
        server_errors=sum((o.status or 500) >= 500 for o in before + outage + after),
        faults=1,
        expected=len(accepted),
        sent=len(set(emails)),
        duplicated=received["received"]["contacts"] - len(set(emails)),
        lost=len(accepted) - len(set(emails)),
        outage_p50_ms=round(percentile([o.seconds for o in outage], 0.5) * 1000, 1),
        outage_p99_ms=round(percentile([o.seconds for o in outage], 0.99) * 1000, 1),
        caught_up_seconds=round(caught_up, 1),
    )
    assert before[-1].status == 429, "the limit was not in force before the outage"
    assert [o.status for o in outage] == [200] * len(outage)  # over the limit: open
    assert "rate limiting is off" in api.log_text()
    assert after[-1].status == 429, "the limit did not come back with Redis"
    assert received["received"]["contacts"] == len(accepted)  # none twice
    assert len(set(emails)) == len(accepted)  # none lost
    # Ingestion does not wait on the dead broker (the outbox row is already safe).
    assert percentile([o.seconds for o in outage], 0.99) < 2.0, outage


@short_and_soak(
    ("redis stopped", {"limit": 3, "during": 40, "threads": 4}),
    ("redis stopped (soak)", {"limit": 20, "during": 1500, "threads": 8}),
)
def test_redis_stopped_under_load(
    account, sandbox, private_redis, servers, tmp_path, test, load
):
    *results, api = run_redis_outage(
        account, sandbox, private_redis, servers, tmp_path, **load
    )
    check_redis_outage(sandbox, *results, api, test=test)


# -- Salesmanago slow --------------------------------------------------------------------


WARM_UP = 10


@pytest.fixture
def slow_sandbox():
    """A second sandbox, for the account whose Salesmanago is slow."""
    server = SandboxServer().start()
    yield server
    server.stop()


def staging_account_at(account, url: str) -> SalesmanagoAccount:
    """The demo customer's staging account: another account, on another server."""
    return SalesmanagoAccount.objects.create(
        customer=account.customer,
        group_key=account.group_key,
        environment="staging",
        **demo_account_fields(url),
    )


def timed_ingest(session, url: str, first: int, count: int, tag: str) -> list[float]:
    """Sends ``count`` profiles one after another; returns each one's seconds."""
    outcomes = [send(session, url, profile(first + n, tag)) for n in range(count)]
    assert [o.status for o in outcomes] == [200] * count, outcomes[0]
    return [o.seconds for o in outcomes]


def run_slow_salesmanago(
    account, sandbox, slow, redis, servers, tmp_path, *, timeout, calls, count
):
    """The production account's Salesmanago holds each of ``calls`` calls past the
    client's ``timeout``; the staging account's answers at once."""
    account.base_url = account.v3_base_url = slow.url
    account.save()
    staging_account_at(account, sandbox.url)
    prod, prod_secret = credential_create(customer=account.customer)
    stage, stage_secret = credential_create(
        customer=account.customer, environment="staging"
    )
    env = server_env(shared_test_database_url(), redis.url)
    api = servers(Gunicorn(env, tmp_path / "gunicorn.log"))
    limit = str(timeout * 2 + 10)
    servers(
        Worker(
            redis.url,
            tmp_path / "worker.log",
            SALESMANAGO_TIMEOUT_SECONDS=str(timeout),
            DATATALKS_DELIVERY_TASK_TIME_LIMIT_SECONDS=limit,
            DATATALKS_DELIVERY_STUCK_SECONDS=str(int(limit) + 5),
        )
    )
    url = api.url + "/v3/profiles"
    prod_session = signed_session(prod.access_key_id, prod_secret)
    # Warm-up (each gunicorn worker's first requests load code), then the baseline.
    timed_ingest(prod_session, url, 900_000, WARM_UP, "warm")
    baseline = timed_ingest(prod_session, url, 1, count, "base")
    wait_for(
        lambda: delivery_statuses() == {"sent": WARM_UP + count}, 60, "the baseline"
    )
    slow.fail_next("timeout", calls, delay=timeout + 3, paths=["/api/contact"])
    # The other account's deliveries go while the slow one's calls hang.
    staging = threading.Thread(
        target=timed_ingest,
        args=(signed_session(stage.access_key_id, stage_secret), url, 1, 20, "stg"),
    )
    staging.start()
    slowed = timed_ingest(prod_session, url, 10_000, count, "slow")
    staging.join(120)
    staging_sent = wait_for(
        lambda: staging_latencies() if len(staging_latencies()) == 20 else None,
        timeout + 60,
        "the staging account's deliveries",
    )
    wait_for(
        lambda: delivery_statuses() == {"sent": WARM_UP + 2 * count + 20},
        (timeout + 10) * (calls + 2),
        "the slow account's deliveries once Salesmanago is fast again",
    )
    return baseline, slowed, staging_sent


def staging_latencies() -> list[float]:
    rows = Delivery.objects.filter(
        account__environment="staging", status="sent"
    ).values_list("created_at", "sent_at")
    return [(sent - created).total_seconds() for created, sent in rows]


def check_slow_salesmanago(
    sandbox, slow, baseline, slowed, staging_sent, *, test, timeout, calls
):
    ms = {
        f"{name}_{label}_ms": round(percentile(values, q) * 1000, 1)
        for name, values in (("base", baseline), ("slow", slowed))
        for label, q in (("p50", 0.5), ("p99", 0.99))
    }
    fast_state, slow_state = sandbox.state(), slow.state()
    contacts = [c["email"] for c in fast_state["contacts"] + slow_state["contacts"]]
    received = fast_state["received"]["contacts"] + slow_state["received"]["contacts"]
    expected = WARM_UP + 2 * len(baseline) + len(staging_sent)
    record_figures(
        test,
        requests=expected,
        server_errors=0,
        faults=calls,
        expected=expected,
        sent=len(set(contacts)),
        duplicated=received - len(set(contacts)),
        lost=expected - len(set(contacts)),
        other_account_max_delivery_s=round(max(staging_sent), 1),
        **ms,
    )
    # Ingest never calls Salesmanago: its latency does not follow the slowness.
    assert ms["slow_p50_ms"] <= 2 * ms["base_p50_ms"] + 50, ms
    assert ms["slow_p99_ms"] <= 2 * ms["base_p99_ms"] + 250, ms
    # The other account's deliveries wait at most about one call's timeout: a slow
    # account can hold every worker process, but only until the client gives up.
    assert max(staging_sent) < timeout + 20, staging_sent
    # Held, then sent: the held calls are the batch's first, the look-up of which
    # contacts exist (their consent) or the upsert itself.
    contact_calls = sum(
        n for path, n in slow_state["calls"].items() if path.startswith("/api/contact")
    )
    assert contact_calls > calls and slow_state["calls"]["/api/contact/batchupsert"]
    assert received == expected and len(set(contacts)) == expected


@short_and_soak(
    ("salesmanago slow", {"timeout": 2, "calls": 3, "count": 60}),
    ("salesmanago slow, 30 s (soak)", {"timeout": 30, "calls": 2, "count": 300}),
)
def test_slow_salesmanago(
    account, sandbox, slow_sandbox, private_redis, servers, tmp_path, test, load
):
    results = run_slow_salesmanago(
        account, sandbox, slow_sandbox, private_redis, servers, tmp_path, **load
    )
    check_slow_salesmanago(
        sandbox,
        slow_sandbox,
        *results,
        test=test,
        timeout=load["timeout"],
        calls=load["calls"],
    )


# -- Workers killed with SIGKILL ---------------------------------------------------------


def ingest_paced(client, pairs: int, per_batch: int, pause: float) -> None:
    """``pairs`` profiles and their events, in small batches, while workers die."""
    for first in range(1, pairs + 1, per_batch):
        numbers = range(first, min(first + per_batch, pairs + 1))
        # Each purchase waits until its profile's contact is sent.
        for path, body in (("profiles", demo_person), ("events", demo_purchase)):
            response = client.post(
                f"/v3/{path}/batch",
                {"items": [body(n, "k") for n in numbers]},
                format="json",
            )
            assert response.status_code == 200 and response.json()["success"]
        time.sleep(pause)


def kill_at_random(start_worker, sandbox, done, *, kills: int, rng) -> list[dict]:
    """Kills the running worker (SIGKILL, the whole process group) ``kills`` times,
    starting a new one each time: half at a random moment, half a random 0-150 ms
    after a call reached Salesmanago, around the moment its answer is recorded.
    Returns, per kill, what it left in flight (see ``in_flight``)."""
    worker, kills_made, counted = start_worker(), [], set()
    while len(kills_made) < kills and not done():
        if rng.random() < 0.5:
            time.sleep(rng.uniform(0.3, 2.5))
            when = "any time"
        else:
            calls = sum(sandbox.state()["calls"].values())
            deadline = time.monotonic() + 10
            while sum(sandbox.state()["calls"].values()) == calls:
                if time.monotonic() > deadline or done():
                    break
                time.sleep(0.005)
            time.sleep(rng.uniform(0, 0.15))
            when = "after a call"
        worker.kill()
        # A call already on the wire is still handled by Salesmanago: let it land.
        time.sleep(0.3)
        kills_made.append({"when": when, **in_flight(sandbox, counted)})
        worker = start_worker()
    return kills_made


def in_flight(sandbox, counted: set) -> dict:
    """What a kill left claimed but unrecorded (no earlier kill left the same claim):
    ``stranded`` items, of which ``ambiguous`` ones Salesmanago had already processed,
    so that sending them again doubles them."""
    state = sandbox.state()
    seen = {c["email"] for c in state["contacts"]} | set(state["event_items"])
    held = [
        (claim, data)
        for claim, data in Delivery.objects.filter(status="sending").values_list(
            "claim", "data_point__data"
        )
        if claim not in counted
    ]
    counted.update(claim for claim, _ in held)
    ids = [data.get("email") or data.get("event_id") for _, data in held]
    return {"stranded": len(ids), "ambiguous": sum(i in seen for i in ids)}


def run_worker_kills(account, sandbox, redis, tmp_path, *, pairs, kills, pause, seed):
    client = signed_client(account.customer)
    workers = []

    def start_worker():
        worker = Worker(
            redis.url,
            tmp_path / f"worker{len(workers)}.log",
            DATATALKS_DELIVERY_TASK_TIME_LIMIT_SECONDS="6",
            DATATALKS_DELIVERY_STUCK_SECONDS="8",
        ).start()
        workers.append(worker)
        return worker

    def settled():
        # Sent, or (an event that was on the wire when its worker died) unknown.
        statuses = delivery_statuses()
        return (
            set(statuses) <= {"sent", "unknown"} and sum(statuses.values()) == 2 * pairs
        )

    feeder = threading.Thread(target=ingest_paced, args=(client, pairs, 10, pause))
    try:
        feeder.start()
        moments = kill_at_random(
            start_worker, sandbox, settled, kills=kills, rng=random.Random(seed)
        )
        feeder.join(300)
        wait_for(
            settled,
            300,
            f"{2 * pairs} deliveries after {len(moments)} kills",
            interval=0.5,
        )
    finally:
        for worker in workers:
            worker.stop()
    return moments, workers


RELEASED = re.compile(r"worker stopped: (\d+) deliveries queued again")


def replay_missing_events(sandbox, account) -> int:
    """What staff do with an event of unknown outcome (README, Delivery): look for it
    in Salesmanago and Replay it if it is missing. An event is one call of its own
    (only the single add answers the eventId its updates need), so a worker killed
    between marking a wave of calls on the wire and making them leaves a few such
    events; none may be sent twice. Returns how many were replayed."""
    seen = set(sandbox.state()["event_items"])
    missing = [
        pk
        for pk, data in Delivery.objects.filter(status="unknown").values_list(
            "pk", "data_point__data"
        )
        if data["event_id"] not in seen
    ]
    deliveries_replay(ids=missing)
    while account_deliver(account_id=account.pk):
        pass
    return len(missing)


def check_worker_kills(
    sandbox, account, pairs, moments, workers, *, test: str, seed: int
):
    replayed = replay_missing_events(sandbox, account)
    state = sandbox.state()
    emails = {c["email"] for c in state["contacts"]}
    events = state["event_items"]
    twice = {
        "contacts": state["received"]["contacts"] - len(emails),
        "events": len(events) - len(set(events)),
    }
    released = sum(
        int(n)
        for w in workers
        for n in RELEASED.findall(w.log_path.read_text(errors="replace"))
    )
    record_figures(
        test,
        requests=2 * -(-pairs // 10),  # a profile and an event batch per 10 pairs
        server_errors=0,
        faults=len(moments),
        expected=2 * pairs,
        sent=len(emails) + len(set(events)),
        duplicated=sum(twice.values()),
        lost=2 * pairs - len(emails) - len(set(events)),
        contacts_twice=twice["contacts"],
        events_twice=twice["events"],
        events_stored_twice=len(state["events"]) - len(set(events)),
        released_by_sweeper=released,
        events_of_unknown_outcome=delivery_statuses().get("unknown", 0),
        events_in_doubt_replayed=replayed,
        kills_after_a_call=sum(k["when"] == "after a call" for k in moments),
        kills_stranding=sum(k["stranded"] > 0 for k in moments),
        kills_ambiguous=sum(k["ambiguous"] > 0 for k in moments),
        ambiguous_kills_at_any_time=sum(
            k["ambiguous"] > 0 and k["when"] == "any time" for k in moments
        ),
        ambiguous_items=sum(k["ambiguous"] for k in moments),
        ambiguous_items_at_any_time=sum(
            k["ambiguous"] for k in moments if k["when"] == "any time"
        ),
        seed=seed,
    )
    assert emails == {f"k{n}@load.example" for n in range(1, pairs + 1)}  # none lost
    assert set(events) == {f"K-{n}" for n in range(1, pairs + 1)}
    assert moments
    # An event on the wire when its worker died is marked unknown, never resent:
    # no event is processed twice. A contact may be (an upsert: same contact), only
    # when a kill left it processed but unrecorded, never by two workers at once.
    assert twice["events"] == 0, (twice, moments)
    assert twice["contacts"] <= sum(k["ambiguous"] for k in moments), moments
    assert twice["contacts"] <= released, (twice, released)


@short_and_soak(
    ("worker SIGKILL", {"pairs": 50, "kills": 4, "pause": 0.3}),
    ("worker SIGKILL x1000 (soak)", {"pairs": 500, "kills": 40, "pause": 0.8}),
)
def test_workers_killed_at_random_during_deliveries(
    account, sandbox, private_redis, tmp_path, test, load
):
    seed = random.randrange(10**6)
    moments, workers = run_worker_kills(
        account, sandbox, private_redis, tmp_path, **load, seed=seed
    )
    check_worker_kills(
        sandbox, account, load["pairs"], moments, workers, test=test, seed=seed
    )
