"""The data health page: request counts rolled up from the log without touching the
ingest path, merged with the rows not rolled up yet; top rejections; deliveries."""

import uuid
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from ingestion.health import customer_health
from ingestion.models import RejectionRollup, RequestLog, RequestRollup
from ingestion.rollups import requestlog_rollup
from integrations.demo import salesmanago_demo_load
from integrations.models import Delivery
from tests.harness.customers import make_customer

NOW = timezone.now().replace(minute=30, second=0, microsecond=0)


def log(customer, status, type_name="person", messages=(), at=None):
    row = RequestLog.objects.create(
        request_id=uuid.uuid4(),
        customer=customer,
        method="POST",
        path="/v2/profiles",
        type_name=type_name,
        status_code=status,
        messages=list(messages),
        duration_ms=1.0,
    )
    RequestLog.objects.filter(pk=row.pk).update(created_at=at or NOW)
    return row


def test_rollup_counts_each_row_once_and_the_page_adds_the_rest(demo):
    hour_ago = NOW - timedelta(hours=1)
    log(demo, 200, at=hour_ago)
    log(demo, 200, at=hour_ago)
    log(demo, 400, messages=["data.age: missing"], at=hour_ago)
    log(demo, 200, "purchase_ev", at=hour_ago - timedelta(days=3))
    assert requestlog_rollup(until=NOW - timedelta(minutes=5)) == 4
    assert requestlog_rollup(until=NOW - timedelta(minutes=5)) == 0  # nothing new
    person = RequestRollup.objects.get(customer=demo, type_name="person")
    assert (person.accepted, person.rejected) == (2, 1)
    # Logged after the mark: not rolled up yet, counted from the log by the page.
    log(demo, 200, at=NOW)
    latest = log(demo, 400, messages=["data.age: missing"], at=NOW)
    health = customer_health(customer=demo, now=NOW)
    series = {s.type_name: s for s in health.series}
    assert (series["person"].accepted_24h, series["person"].rejected_24h) == (3, 2)
    assert (series["purchase_ev"].accepted_24h, series["purchase_ev"].accepted_30d) == (
        0,
        1,
    )
    assert [h for h in series["person"].hours if h[1] or h[2]] == [
        (hour_ago.replace(minute=0), 2, 1),
        (NOW.replace(minute=0), 1, 1),
    ]
    [top] = health.rejections
    assert (top.message, top.count) == ("data.age: missing", 2)
    assert top.example_request_id == str(latest.request_id)
    requestlog_rollup(until=NOW + timedelta(minutes=1))
    # A row per day: the hour-old rejection and the latest are on two days when the
    # test runs in the first hour after midnight (UTC).
    rolled = RejectionRollup.objects.filter(customer=demo, message="data.age: missing")
    assert sum(r.count for r in rolled) == 2
    again = customer_health(customer=demo, now=NOW)
    assert {s.type_name: s.rejected_24h for s in again.series}["person"] == 2


def test_other_customers_are_not_counted(demo):
    log(demo, 200, at=NOW)
    acme = make_customer("acme")
    log(acme, 400, messages=["acme only"], at=NOW)
    requestlog_rollup(until=NOW + timedelta(minutes=1))
    health = customer_health(customer=demo, now=NOW)
    assert [r.message for r in health.rejections] == []
    assert sum(s.accepted_24h for s in health.series) == 1


def test_deliveries_show_lag_and_open_states_per_account(demo, api):
    account = salesmanago_demo_load(demo)
    for body_id in (1, 2):
        api.post(
            "/v3/profiles",
            {
                "type": "person",
                "data": {
                    "customer_id": body_id,
                    "first_name": "A",
                    "last_name": "B",
                    "email": f"a{body_id}@example.com",
                },
            },
            format="json",
        )
    first, second = Delivery.objects.order_by("created_at")
    Delivery.objects.filter(pk=first.pk).update(
        status="sent", sent_at=first.created_at + timedelta(seconds=3)
    )
    Delivery.objects.filter(pk=second.pk).update(status="dead")
    [row] = customer_health(customer=demo).accounts
    assert row.account == account and row.sent_24h == 1
    assert row.lag_max == timedelta(seconds=3) == row.lag_avg
    assert row.by_status["dead"] == 1 and row.by_status["pending"] == 0


def test_the_page_draws_svg_charts_and_names_the_top_rejection(staff, demo):
    log(demo, 400, messages=['data.email: "x" is not a valid email address'], at=NOW)
    page = staff.get(reverse("admin:mappings_customer_health", args=[demo.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert html.count('<svg class="dt-chart"') == 2  # 24 hours and 30 days of person
    assert "is not a valid email address" in html
    assert "<script" not in html.split('id="content-main"')[1]
