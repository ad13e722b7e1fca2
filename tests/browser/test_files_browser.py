"""The files admin in a real browser: staff upload a file from the customer's page and
watch its progress bar move while the worker's service commits chunk after chunk."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from ingestion.files import services
from ingestion.models import FileUpload
from tests.browser import test_admin_browser as browser
from tests.harness.files import csv_bytes, person_rows

page, shot, pytestmark = browser.page, browser.shot, browser.pytestmark


@pytest.mark.django_db(transaction=True)
def test_staff_upload_a_file_and_watch_its_progress(
    live_server, page, django_user_model, demo, settings, tmp_path
):
    settings.DATATALKS_FILE_CHUNK_ROWS = 100
    settings.DATATALKS_FILE_SLICE_SECONDS = 0  # one chunk per call below
    people = tmp_path / "people.csv"
    people.write_bytes(csv_bytes(person_rows(300, bad=frozenset({250}))))
    browser.log_in(page, live_server, django_user_model)

    page.goto(
        live_server.url + reverse("admin:mappings_customer_change", args=[demo.pk])
    )
    page.click("text=Upload a file")
    page.select_option(
        "#id_type", label="demo: person (profile)"
    )  # named with its customer
    page.set_input_files("#id_file", str(people))
    page.click("input[type=submit][value=Upload]")
    expect(page.locator(".messagelist")).to_contain_text(
        "The file people.csv is queued"
    )
    expect(page.locator("#file-status")).to_have_text("queued")
    upload = FileUpload.objects.get()
    assert upload.uploaded_by == "onboarding"

    for accepted in ("100", "200"):
        assert services.file_process(file_id=upload.pk)
        # The page polls every second: the bar and the counts move on their own.
        expect(page.locator("#file-accepted")).to_have_text(accepted, timeout=10_000)
        expect(page.locator("#file-status")).to_have_text("processing")
    value = float(page.locator("#file-progress").get_attribute("value") or 0)
    assert 0 < value < 100
    shot(page, "08-file-progress")
    assert not services.file_process(file_id=upload.pk)
    expect(page.locator("#file-status")).to_have_text("done", timeout=10_000)
    expect(page.locator("#file-accepted")).to_have_text("299")
    expect(page.locator("#file-errors")).to_have_text("Download rejected rows")
    shot(page, "09-file-done")
