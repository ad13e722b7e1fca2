"""The onboarding admin and the API docs in a real browser (Playwright driving the
system's Chromium): log in, create a type from a CSV sample, save it, try a payload that
fails and one that passes; Swagger UI and ReDoc render with the network cut off.
Screenshots of each step go to test-artifacts/."""

import json
import os
import re
import uuid
from pathlib import Path

import pytest
from django.contrib import admin
from django.urls import reverse
from playwright.sync_api import expect, sync_playwright

from ingestion import examples
from ingestion.caller import ApiCaller
from ingestion.credentials import credential_create
from ingestion.models import DataPoint, IdentityCollision, RequestLog
from ingestion.services import datapoint_ingest
from integrations.demo import demo_account_fields, salesmanago_demo_load
from integrations.models import Delivery
from integrations.salesmanago.sandbox import (
    DEMO_CLIENT_ID,
)
from mappings.categories import CATEGORY_OF_PATH
from mappings.demo import demo_load
from mappings.models import Customer, DataPointType
from mappings.versions import mapping_version_create
from tests.harness.customers import make_customer
from tests.harness.delivery import Worker
from tests.harness.processes import wait_for
from tests.harness.signing import signed_session

CHROMIUM = Path("/usr/bin/chromium")
# The screen staff work on: every admin page must fit it without scrolling sideways.
SCREEN_WIDTH = 1400
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "svenska_medlemmar.csv"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
MEMBER = {
    "Medlemsnummer": 100234,
    "Förnamn": "Åsa",
    "Efternamn": "Öberg",
    "E-post": "asa.oberg@exempel.se",
    "Medlem": "Ja",
    "Senaste köp": "18.03.2021 11:35",
    "Belopp": "123.75",
    "Födelsedag": "1985-04-12",
    "Registrerad": "2019-01-15 08:30:00",
}

# Outside CI a machine without Chromium skips; in CI a missing Chromium fails below.
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() and os.environ.get("CI") != "true",
    reason="Chromium is not installed at /usr/bin/chromium (apt-get install chromium; "
    "CI installs it)",
)


@pytest.fixture
def page(monkeypatch):
    # Playwright's sync API keeps an event loop in this thread, beside which Django
    # refuses ORM calls; the test's own queries are plain synchronous ones.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    if not CHROMIUM.exists():
        pytest.fail("CI=true but /usr/bin/chromium is missing: .ci/run installs it")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser.new_page(viewport={"width": SCREEN_WIDTH, "height": 900})
        finally:
            browser.close()


def log_in(page, live_server, django_user_model) -> None:
    """A superuser "onboarding", logged in to the admin in ``page``."""
    django_user_model.objects.create_superuser("onboarding", "o@example.com", "pw-123")
    page.goto(live_server.url + "/admin/login/")
    page.fill("#id_username", "onboarding")
    page.fill("#id_password", "pw-123")
    page.click("input[type=submit]")


def cut_off(page, origin: str) -> list[str]:
    """Aborts every request to anything but ``origin``; returns the list of those."""
    blocked: list[str] = []

    def route(route):
        url = route.request.url
        if url == origin or url.startswith(origin + "/") or url.startswith("data:"):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    page.route("**/*", route)
    return blocked


# Elements that scroll sideways: the page itself, or a box (a changelist's results, an
# inline) whose content is wider than it.
SIDEWAYS = """() => {
  const wide = [];
  const doc = document.documentElement;
  if (doc.scrollWidth > doc.clientWidth) wide.push(`page ${doc.scrollWidth}px`);
  for (const el of document.querySelectorAll('body *:not(select)')) {
    const x = getComputedStyle(el).overflowX;
    if ((x === 'auto' || x === 'scroll') && el.scrollWidth > el.clientWidth + 1) {
      wide.push(`${el.tagName.toLowerCase()}#${el.id}.${el.className} ${el.scrollWidth}px in ${el.clientWidth}px`);
    }
  }
  return wide;
}"""


def sideways(page) -> list[str]:
    return page.evaluate(SIDEWAYS)


def sign_in(page, url: str, username: str = "onboarding") -> None:
    """Logs ``username`` (a user the test made, password pw-123) in to the admin."""
    page.goto(url + "/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-123")
    page.click("input[type=submit]")
    expect(page.locator("#user-tools")).to_contain_text(username)


def shot(page, name: str) -> None:
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


def try_body(page, data: dict) -> None:
    body = {"type": "member", "groupKey": "main_group", "data": data}
    page.fill("#id_body", json.dumps(body, indent=2, ensure_ascii=False))
    page.click("input[name=_try]")


def test_staff_create_a_type_from_a_sample_and_try_payloads(
    live_server, page, django_user_model
):
    club = make_customer("vasa")
    key, _ = credential_create(customer=club, description="Vasa CRM")
    log_in(page, live_server, django_user_model)
    expect(page.locator("#user-tools")).to_contain_text("onboarding")

    page.goto(live_server.url + reverse("admin:mappings_datapointtype_changelist"))
    page.click("text=Create a type from a sample")
    page.select_option("#id_customer", str(club.pk))
    page.select_option("#id_category", "profile")
    page.fill("#id_name", "member")
    page.fill("#id_description", "A member of the supporters' club (Swedish CRM).")
    page.set_input_files("#id_sample", str(SAMPLE))
    shot(page, "01-import-upload")
    page.click("input[name=_read]")

    hard_id = page.locator('tr[data-column="Medlemsnummer"] input[name$="-hard_id"]')
    expect(hard_id).to_be_checked()
    expect(
        page.locator('tr[data-column="Medlem"] input[name$="-format"]')
    ).to_have_value("Ja/Nej")
    expect(page.locator("#proposal")).to_contain_text("decimal comma")
    shot(page, "02-import-review")
    assert not DataPointType.objects.filter(name="member").exists()
    page.click("input[name=_save]")

    expect(page.locator(".messagelist")).to_contain_text("Saved 9 fields")
    expect(page.locator("#version-history")).to_contain_text("v1")
    shot(page, "03-type-saved")
    member = DataPointType.objects.get(customer=club, name="member")
    assert member.active and member.version == 1 and member.fields.count() == 9

    page.click("text=Try a payload")
    expect(page.locator("#id_body")).to_contain_text('"type": "member"')
    try_body(page, {**MEMBER, "Belopp": "123,75", "Medlem": "Kanske"})
    expect(page.locator("#try-status")).to_have_text("HTTP 400")
    expect(page.locator("#try-messages")).to_contain_text(
        'data.Medlem: "Kanske" is not a boolean (expected ja/nej or true/false)'
    )
    expect(page.locator("#try-messages")).to_contain_text(
        'data.Belopp: "123,75" is not a decimal number'
    )
    shot(page, "04-try-fails")

    try_body(page, MEMBER)
    expect(page.locator("#try-status")).to_have_text("HTTP 200")
    expect(page.locator("#try-stored")).to_contain_text('"belopp": "123.75"')
    expect(page.locator("#try-stored")).to_contain_text('"medlem": true')
    expect(page.locator("#try-envelope")).to_contain_text(key.access_key_id)
    shot(page, "05-try-passes")
    assert DataPoint.objects.count() == 0


def test_staff_apply_a_template_from_the_customer_page(
    live_server, page, django_user_model
):
    club = make_customer("hammarby")
    log_in(page, live_server, django_user_model)

    page.goto(
        live_server.url + reverse("admin:mappings_customer_change", args=[club.pk])
    )
    expect(page.locator(".object-tools")).to_contain_text("OpenAPI document")
    page.click("text=Sports template")
    expect(page.locator("#template-preview")).to_contain_text("ticket_purchase")
    shot(page, "06-template-preview")
    page.click("input[type=submit][value^='Apply']")

    expect(page.locator(".messagelist")).to_contain_text(
        "Sports template applied to Hammarby: created supporter"
    )
    shot(page, "07-template-applied")
    assert club.data_point_types.filter(active=True).count() == 6  # with its person


@pytest.mark.parametrize("path", ["/api/docs/", "/index.html"])
def test_swagger_ui_renders_the_operations_offline(live_server, page, path):
    blocked = cut_off(page, live_server.url)
    page.goto(live_server.url + path)
    operations = page.locator(".opblock-summary-path")
    expect(operations.first).to_be_visible(timeout=20_000)
    shown = {text.strip() for text in operations.all_inner_texts()}
    assert {"/v2/profiles", "/v3/events/batch", "/v3/schema"} <= shown
    shot(page, "docs-swagger-ui")
    assert blocked == []


def test_redoc_renders_the_operations_offline(live_server, page):
    blocked = cut_off(page, live_server.url)
    page.goto(live_server.url + "/api/redoc/")
    expect(page.locator("h1").first).to_contain_text("Data Talks API", timeout=20_000)
    expect(page.get_by_text("/v3/inventory/batch").first).to_be_attached()
    shot(page, "docs-redoc")
    assert blocked == []


def seed_every_kind_of_row(user) -> None:
    """A customer with data in every admin list, long texts where they occur."""
    demo = demo_load()
    salesmanago_demo_load(demo)
    for dpt in demo.data_point_types.all():
        mapping_version_create(data_point_type=dpt, user=user)
    credential, _ = credential_create(customer=demo, description="Demo shop's CRM")
    caller = ApiCaller(
        customer=demo, environment="production", access_key_id=credential.access_key_id
    )
    for path, body in examples.BY_PATH.items():
        datapoint_ingest(
            caller=caller, category=CATEGORY_OF_PATH[path], version="v2", body=body
        )
    long_message = (
        'data.email: "mma a@gma.com" is not a valid email address; '
        + "data.first_name: missing " * 12
    )
    for status, messages in ((200, []), (400, [long_message, "data.age: missing"])):
        RequestLog.objects.create(
            request_id=uuid.uuid4(),
            customer=demo,
            access_key_id=credential.access_key_id,
            environment="production",
            method="POST",
            path="/v3/profiles/batch",
            type_name="purchase_ev",
            mapping_version=1,
            status_code=status,
            messages=messages,
            datatalks_id=uuid.uuid4() if status == 200 else None,
            duration_ms=12.345,
        )
    Delivery.objects.filter(category="event").update(
        status="failed", attempts=3, last_error="Salesmanago said: " + "x" * 400
    )
    dp = DataPoint.objects.filter(data_point_type__name="person").first()
    other = DataPoint.objects.exclude(pk=dp.pk).first()
    IdentityCollision.objects.create(
        customer=demo,
        environment="production",
        kind="email",
        value="juliana.crane@fake.com",
        owner=dp,
        claimant=other,
        request_id=uuid.uuid4(),
    )


def every_admin_page(request) -> list[tuple[str, str]]:
    """(name, path) of every list, add form and change form staff can open."""
    pages = []
    for model, model_admin in admin.site._registry.items():
        name = f"{model._meta.app_label}_{model._meta.model_name}"
        pages.append((f"{name}-list", reverse(f"admin:{name}_changelist")))
        if model_admin.has_add_permission(request):
            pages.append((f"{name}-add", reverse(f"admin:{name}_add")))
        obj = model_admin.get_queryset(request).first()
        if obj is not None:
            pages.append(
                (f"{name}-change", reverse(f"admin:{name}_change", args=[obj.pk]))
            )
    customer = Customer.objects.get(slug="demo")
    pages += [
        (
            "onboarding-health",
            reverse("admin:mappings_customer_health", args=[customer.pk]),
        ),
        (
            "onboarding-try",
            reverse("admin:mappings_customer_try") + f"?customer={customer.pk}",
        ),
        ("onboarding-import", reverse("admin:mappings_datapointtype_import_new")),
    ]
    return sorted(pages)


def test_every_admin_list_and_form_fits_a_1400px_screen(
    live_server, page, django_user_model, rf
):
    user = django_user_model.objects.create_superuser(
        "onboarding", "o@example.com", "pw-123"
    )
    seed_every_kind_of_row(user)
    request = rf.get("/admin/")
    request.user = user
    pages = every_admin_page(request)
    assert len(pages) >= 33
    sign_in(page, live_server.url)
    too_wide = {}
    for name, path in pages:
        response = page.goto(live_server.url + path)
        assert response.status == 200, (name, response.status)
        shot(page, f"fit-{name}")
        if wide := sideways(page):
            too_wide[name] = wide
    assert too_wide == {}, json.dumps(too_wide, indent=1)


def step_states(page) -> dict[str, str]:
    items = page.locator("#onboarding-checklist li")
    return {
        items.nth(i).get_attribute("data-step"): items.nth(i).get_attribute("class")
        for i in range(items.count())
    }


def open_customer(page, url: str, customer) -> None:
    page.goto(url + reverse("admin:mappings_customer_change", args=[customer.pk]))
    expect(page.locator("#onboarding-checklist")).to_be_visible()


def test_staff_walk_the_checklist_of_a_new_customer_to_a_first_delivery(
    live_server, page, django_user_model, sandbox, broker, tmp_path
):
    club = make_customer("hammarby")
    django_user_model.objects.create_superuser("onboarding", "o@example.com", "pw-123")
    sign_in(page, live_server.url)
    open_customer(page, live_server.url, club)
    assert step_states(page) == {
        "group_keys": "done",
        "types": "done",
        "api_key": "todo",
        "accounts": "todo",
        "mappings": "todo",
        "tried": "todo",
        "first_data": "todo",
        "first_delivery": "todo",
    }
    expect(page.locator(".dt-gap")).to_contain_text("integration is off")
    shot(page, "walk-01-new-customer")

    page.check("#id_salesmanago_enabled")
    page.click("input[name=_continue]")
    expect(page.locator(".dt-gap").first).to_contain_text(
        "Group key main_group has no enabled production Salesmanago account"
    )

    page.click("#onboarding-checklist li[data-step=api_key] a")
    expect(page.locator("#id_customer")).to_have_value(str(club.pk))
    page.fill("#id_description", "Hammarby CRM")
    page.click("input[name=_save]")
    secret_message = page.locator(".messagelist").inner_text()
    key, secret = re.search(r"for (DT\w+): (\S+) —", secret_message).groups()

    open_customer(page, live_server.url, club)
    page.click("#onboarding-checklist li[data-step=accounts] a")
    expect(page.locator("#id_group_key")).to_have_value(str(club.group_keys.get().pk))
    for field, value in demo_account_fields(sandbox.url).items():
        page.fill(f"#id_{field}", value)
    shot(page, "walk-02-account")
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")

    open_customer(page, live_server.url, club)
    expect(
        page.locator("#onboarding-checklist li[data-step=mappings]")
    ).to_contain_text("Not mapped: person")
    page.click("#onboarding-checklist li[data-step=mappings] a")
    page.select_option("#id_entries-0-target", "contact.email")
    page.fill("#id_entries-0-source", "email")
    shot(page, "walk-03-mapping")
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")

    open_customer(page, live_server.url, club)
    expect(page.locator(".dt-gap")).to_have_count(0)
    page.click("#onboarding-checklist li[data-step=tried] a")
    person = {"customer_id": 1904, "email": "bajen@example.se"}
    page.fill("#id_body", json.dumps({"type": "person", "data": person}))
    page.select_option("#id_endpoint", "v3/profiles")
    page.click("input[name=_try]")
    expect(page.locator("#try-status")).to_have_text("HTTP 200")
    expect(page.locator("#try-salesmanago")).to_contain_text("bajen@example.se")
    expect(page.locator(".dt-try-warning")).to_have_count(0)
    shot(page, "walk-04-tried")

    worker = Worker(broker.url, tmp_path / "worker.log").start()
    try:
        answer = signed_session(key, secret).post(
            live_server.url + "/v3/profiles",
            json={"type": "person", "data": person},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        wait_for(
            lambda: sandbox.state(DEMO_CLIENT_ID)["contacts"], 60, "the first delivery"
        )
    finally:
        worker.stop()
    [contact] = sandbox.state(DEMO_CLIENT_ID)["contacts"]
    assert contact["email"] == "bajen@example.se"
    open_customer(page, live_server.url, club)
    assert set(step_states(page).values()) == {"done"}
    shot(page, "walk-05-first-delivery")
