"""Past one machine, measured on one (docs/scaling.md): two web nodes (gunicorn, each
on its own loopback port) take the requests in turn, as behind a load balancer, and
two Celery workers send to the Salesmanago sandbox, all on one database and one
broker. Mid-run one web node and one worker are stopped and started again, as a
rolling deploy does: every accepted request is stored once and reaches Salesmanago
exactly once. Bounded in requests and time; loopback only.
"""

import threading
import time
from collections import Counter

import pytest

from ingestion.credentials import credential_create
from ingestion.models import DataPoint
from integrations.models import Delivery
from integrations.salesmanago.client import EVENT_ADD_PATH
from tests.harness.customers import demo_person, demo_purchase
from tests.harness.delivery import Worker
from tests.harness.faults import (
    Gunicorn,
    percentile,
    record_figures,
    send,
    server_env,
    shared_test_database_url,
)
from tests.harness.processes import wait_for
from tests.harness.signing import signed_session

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PAIRS = 1000  # a profile and its purchase each: 2,000 requests
CLIENTS = 4
MAX_SECONDS = 240
# Each client sends at most one pair per PAIR_SECONDS (50 requests/s in all, 40 s), so
# on a fast machine requests still arrive while node b and worker 2 restart.
PAIR_SECONDS = 0.16


class Balancer:
    """What a load balancer does for the clients: each request to the next web node
    in turn; a node that refuses the connection or answers 5xx is passed over for
    the next one (its health check would have failed)."""

    def __init__(self, nodes: dict[str, Gunicorn]):
        self.nodes = nodes
        self.names = list(nodes)

    def post(self, session, path: str, body: dict, index: int):
        """The outcome and the node that gave it, with how many nodes were passed."""
        passed = 0
        for turn in range(len(self.names)):
            name = self.names[(index + turn) % len(self.names)]
            outcome = send(session, self.nodes[name].url + path, body, index)
            if outcome.status is not None and outcome.status < 500:
                return outcome, name, passed
            passed += 1
        return outcome, None, passed


def clients(balancer: Balancer, key: str, secret: str) -> tuple[list, list]:
    """CLIENTS threads send the pairs; returns (answers, threads) while they run."""
    answers: list[tuple] = []
    numbers = iter(range(1, PAIRS + 1))
    lock = threading.Lock()
    deadline = time.monotonic() + MAX_SECONDS

    def work():
        session = signed_session(key, secret)
        while time.monotonic() < deadline:
            with lock:
                n = next(numbers, None)
            if n is None:
                return
            paced = time.monotonic() + PAIR_SECONDS
            for index, (path, body) in enumerate(
                (
                    ("/v3/profiles", demo_person(n, "s")),
                    ("/v3/events", demo_purchase(n, "sc")),
                )
            ):
                answer = balancer.post(session, path, body, 2 * n + index)
                with lock:
                    answers.append((n, path, *answer))
            time.sleep(max(0.0, paced - time.monotonic()))

    threads = [threading.Thread(target=work) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    return answers, threads


def test_two_web_nodes_and_two_workers_one_of_each_restarted_mid_run(
    account, sandbox, private_redis, servers, tmp_path
):
    env = server_env(shared_test_database_url(), private_redis.url)
    nodes = {
        name: servers(Gunicorn(env, tmp_path / f"web-{name}.log"))
        for name in ("a", "b")
    }
    workers = [
        servers(Worker(private_redis.url, tmp_path / f"worker-{n}.log")) for n in (1, 2)
    ]
    credential, secret = credential_create(customer=account.customer)
    started = time.monotonic()
    answers, threads = clients(Balancer(nodes), credential.access_key_id, secret)
    # A third of the way in, web node b and worker 2 stop (SIGTERM: gunicorn and
    # Celery finish what they have), and start again a few seconds later.
    wait_for(lambda: len(answers) >= 2 * PAIRS // 3, 120, "a third of the requests")
    restart_at = len(answers)
    # Worker 2 drains (Celery's warm shutdown finishes its running task) while node b
    # stops and starts again; the worker starts again once it has drained.
    draining = threading.Thread(target=workers[1].stop)
    draining.start()
    nodes["b"].stop()
    time.sleep(3)
    nodes["b"].start()
    restarted = len(answers)
    draining.join(60)
    workers[1].start()
    for thread in threads:
        thread.join(MAX_SECONDS + 60)
    sent_in = time.monotonic() - started
    wait_for(
        lambda: (
            set(Delivery.objects.values_list("status", flat=True)) == {"sent"}
            and Delivery.objects.count() == 2 * PAIRS
        ),
        180,
        f"{2 * PAIRS} deliveries sent",
        interval=0.5,
    )
    delivered_in = time.monotonic() - started
    check(sandbox, answers, restart_at, restarted, sent_in, delivered_in)


def check(sandbox, answers, restart_at, restarted, sent_in, delivered_in):
    accepted = [a for a in answers if a[2].status == 200]
    by_node = Counter(node for *_, node, _passed in accepted)
    after = Counter(a[3] for a in answers[restarted:] if a[2].status == 200)
    ids = Counter(a[2].body["datatalksId"] for a in accepted)
    state = sandbox.state()
    emails = [c["email"] for c in state["contacts"]]
    events = state["event_items"]
    seconds = [a[2].seconds for a in accepted]
    record_figures(
        "2 web nodes + 2 workers, 1 of each restarted (scaling)",
        requests=len(answers),
        server_errors=sum(1 for a in answers if (a[2].status or 500) >= 500),
        faults=2,
        expected=len(accepted),
        sent=len(set(emails)) + len(set(events)),
        duplicated=state["received"]["contacts"]
        - len(set(emails))
        + len(events)
        - len(set(events)),
        lost=len(accepted) - len(set(emails)) - len(set(events)),
        passed_over=sum(a[4] for a in answers),
        node_a=by_node["a"],
        node_b=by_node["b"],
        node_b_after_restart=after["b"],
        requests_per_s=round(len(accepted) / sent_in, 1),
        p50_ms=round(percentile(seconds, 0.5) * 1000, 1),
        p99_ms=round(percentile(seconds, 0.99) * 1000, 1),
        all_delivered_s=round(delivered_in, 1),
        restart_after_requests=restart_at,
    )
    assert len(accepted) == len(answers) == 2 * PAIRS  # the balancer hid the restart
    assert by_node["a"] and by_node["b"] and after["b"], (by_node, after)
    # Stored once: one data point per Hard-ID, never a second revision, one id each.
    assert DataPoint.objects.count() == 2 * PAIRS == len(ids)
    assert not DataPoint.objects.filter(revision__gt=1).exists()
    assert max(ids.values()) == 1
    # Delivered once: every contact and every event exactly once.
    assert sorted(emails) == sorted(f"s{n}@load.example" for n in range(1, PAIRS + 1))
    assert state["received"]["contacts"] == PAIRS
    assert sorted(events) == sorted(f"SC-{n}" for n in range(1, PAIRS + 1))
    assert state["calls"][EVENT_ADD_PATH] == PAIRS
