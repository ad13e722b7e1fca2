"""Erasing a person from the admin in a real browser: the data point's page, Erase…,
a reason and suppression, the confirmation, then the erasure log with its outcome."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from ingestion import examples
from ingestion.caller import ApiCaller
from ingestion.models import DataPoint, ErasureLog
from ingestion.services import datapoint_ingest
from tests.browser import test_admin_browser as browser

page, shot, pytestmark = browser.page, browser.shot, browser.pytestmark


@pytest.mark.django_db(transaction=True)
def test_staff_erase_a_person_with_a_reason_and_see_it_in_the_log(
    live_server, page, django_user_model, demo
):
    caller = ApiCaller(customer=demo, environment="production", access_key_id="DTX")
    dp_id = datapoint_ingest(
        caller=caller, category="profile", version="v2", body=examples.PROFILE
    ).datatalks_id
    browser.log_in(page, live_server, django_user_model)
    page.goto(
        live_server.url + reverse("admin:ingestion_datapoint_change", args=[dp_id])
    )
    expect(page.locator("#datapoint-export")).to_be_visible()
    page.click("#datapoint-erase")
    expect(page.locator("#content-main")).to_contain_text("This cannot be undone")
    page.click("#erase-confirm")  # no reason yet: the browser does not send it
    assert page.locator("#id_reason").evaluate("e => e.validity.valueMissing")
    expect(page.locator("#erase-form")).to_be_visible()
    assert DataPoint.objects.get(pk=dp_id).erased_at is None
    page.fill("#id_reason", "Ticket 4711: the person asked by e-mail")
    page.check("#id_suppress")
    shot(page, "10-erase-confirm")
    page.click("#erase-confirm")
    expect(page.locator(".messagelist")).to_contain_text("Erased.")
    expect(page.locator("#datapoint-erase")).to_have_count(0)
    assert DataPoint.objects.get(pk=dp_id).data == {}
    log = ErasureLog.objects.get()
    assert (log.requested_by, log.suppressed) == ("onboarding", True)
    page.goto(
        live_server.url + reverse("admin:ingestion_erasurelog_change", args=[log.pk])
    )
    expect(page.locator("#content-main")).to_contain_text("Ticket 4711")
    expect(page.locator("#content-main")).to_contain_text("Hard-ID of person")
    shot(page, "11-erasure-log")
