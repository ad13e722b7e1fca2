"""Retention: per-customer periods with defaults, enforced in bounded batches."""

import copy
from datetime import timedelta

import pytest
from django.utils import timezone

from ingestion import examples
from ingestion.models import RequestLog, RetentionPeriods
from ingestion.privacy.retention import retention_enforce
from ingestion.services import datapoint_ingest
from integrations import services
from integrations.demo import salesmanago_demo_load
from integrations.models import Delivery
from mappings.demo import demo_load
from tests.harness.customers import caller_for, make_customer

DAY = timedelta(days=1)


@pytest.fixture
def small_batches(settings):
    settings.DATATALKS_RETENTION_BATCH = 3
    settings.DATATALKS_RETENTION_REQUEST_LOG_DAYS = 90
    settings.DATATALKS_RETENTION_DELIVERIES_DAYS = 30


def log_rows(customer, ages_in_days):
    now = timezone.now()
    for n, age in enumerate(ages_in_days):
        row = RequestLog.objects.create(
            request_id=f"00000000-0000-4000-8000-{customer.pk:06d}{n:06d}",
            customer=customer,
            method="POST",
            path="/v3/profiles",
            status_code=400,
            messages=["x"],
            duration_ms=1.0,
        )
        RequestLog.objects.filter(pk=row.pk).update(created_at=now - age * DAY)


def test_request_log_past_each_customers_period_goes_in_batches(db, small_batches):
    demo, other = demo_load(), make_customer("other")
    RetentionPeriods.objects.create(customer=other, request_log_days=7)
    log_rows(demo, [1, 50, 89, 91, 95, 100, 120, 200])
    log_rows(other, [1, 6, 8, 10])
    done = retention_enforce()
    assert done["request_log"] == 5 + 2
    ages = sorted(
        round((timezone.now() - t) / DAY)
        for t in RequestLog.objects.values_list("created_at", flat=True)
    )
    assert ages == [1, 1, 6, 50, 89]
    assert retention_enforce()["request_log"] == 0


def ingest(customer, **data):
    body = copy.deepcopy(examples.PROFILE)
    body["data"].update(data)
    customer.refresh_from_db()
    return datapoint_ingest(
        caller=caller_for(customer), category="profile", version="v2", body=body
    ).datatalks_id


def test_old_deliveries_go_but_the_latest_send_stays_without_excerpts(
    db, sandbox, small_batches
):
    customer = demo_load()
    account = salesmanago_demo_load(customer)
    account.base_url = account.v3_base_url = sandbox.url
    account.save()
    for city in ("A", "B", "C"):  # three sent revisions of one person
        ingest(customer, city=city)
        services.account_deliver(account_id=account.pk)
    for n in range(5):  # five people failed for good
        ingest(customer, customer_id=100 + n, email=f"p{n}@fake.com")
    Delivery.objects.filter(status="pending").update(status="failed")
    fresh = ingest(customer, customer_id=999, email="fresh@fake.com")
    old = timezone.now() - 31 * DAY
    Delivery.objects.exclude(data_point_id=fresh).update(created_at=old)
    done = retention_enforce()
    assert (done["deliveries"], done["trimmed"]) == (2 + 5, 1)
    [kept] = Delivery.objects.filter(status="sent")
    assert (kept.revision, kept.request_excerpt, kept.response_excerpt) == (3, "", "")
    assert Delivery.objects.filter(data_point_id=fresh, status="pending").exists()
    # The contact is still known to be in Salesmanago: its events are sent.
    event = copy.deepcopy(examples.EVENT)
    datapoint_ingest(
        caller=caller_for(customer), category="event", version="v2", body=event
    )
    services.account_deliver(account_id=account.pk)
    assert len(sandbox.state()["events"]) == 1
