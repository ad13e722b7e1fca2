"""Staff and a person's data: Erase (confirmed, with a reason) and Export on a data
point's page, the erasure log support reads and nobody edits, lifting suppressions,
and each customer's retention periods on its page."""

import copy
import json

import pytest
from django.urls import reverse

from datatalks.roles import ONBOARDING, SUPPORT
from ingestion import examples
from ingestion.models import DataPoint, ErasureLog, RetentionPeriods, Suppression
from tests.harness.admin import action_names

EMAIL = "juliana.crane@fake.com"


@pytest.fixture
def profile_id(api, demo):
    response = api.post("/v2/profiles", examples.PROFILE, format="json")
    event = copy.deepcopy(examples.EVENT)
    assert api.post("/v2/events", event, format="json").status_code == 200
    return response.json()["datatalksId"]


def page(pk):
    return reverse("admin:ingestion_datapoint_change", args=[pk])


def test_onboarding_staff_erase_with_a_reason_after_confirming(as_role, profile_id):
    client = as_role(ONBOARDING)
    assert 'id="datapoint-erase"' in client.get(page(profile_id)).content.decode()
    url = reverse("admin:ingestion_datapoint_erase", args=[profile_id])
    confirm = client.get(url)
    assert confirm.status_code == 200
    assert "1 linked events" in confirm.content.decode()
    refused = client.post(url, {"reason": ""})
    assert refused.status_code == 200  # the form again: a reason is required
    assert DataPoint.objects.get(pk=profile_id).erased_at is None
    done = client.post(
        url, {"reason": "Ticket 4711: asked by e-mail", "suppress": "on"}
    )
    assert done.status_code == 302
    assert DataPoint.objects.get(pk=profile_id).data == {}
    [log] = ErasureLog.objects.all()
    assert (log.via, log.requested_by, log.reason, log.suppressed) == (
        "admin",
        "onboarding",
        "Ticket 4711: asked by e-mail",
        True,
    )
    assert Suppression.objects.filter(erasure=log).count() == 2


def test_support_exports_but_cannot_erase(as_role, profile_id):
    client = as_role(SUPPORT)
    html = client.get(page(profile_id)).content.decode()
    assert 'id="datapoint-export"' in html and 'id="datapoint-erase"' not in html
    url = reverse("admin:ingestion_datapoint_erase", args=[profile_id])
    assert client.post(url, {"reason": "x"}).status_code == 403
    export = client.get(reverse("admin:ingestion_datapoint_export", args=[profile_id]))
    assert export["Content-Disposition"].startswith("attachment")
    exported = json.loads(export.content)
    assert exported["profile"]["values"]["email"] == EMAIL
    assert exported["profile"]["eventsTotal"] == 1


def test_the_erasure_log_is_read_by_support_and_changed_by_no_one(
    as_role, api, profile_id
):
    api.delete(f"/v3/profiles/{profile_id}")
    [log] = ErasureLog.objects.all()
    for role in (SUPPORT, ONBOARDING, None):
        client = as_role(role)
        listing = client.get(reverse("admin:ingestion_erasurelog_changelist"))
        assert listing.status_code == 200
        assert api.key in listing.content.decode()
        url = reverse("admin:ingestion_erasurelog_change", args=[log.pk])
        assert client.post(url, {"reason": "changed"}).status_code == 403
        delete = reverse("admin:ingestion_erasurelog_delete", args=[log.pk])
        assert client.post(delete, {"post": "yes"}).status_code == 403
    log.refresh_from_db()
    assert log.reason == ""


def test_onboarding_staff_lift_a_suppression_support_cannot(as_role, api, profile_id):
    api.delete(f"/v3/profiles/{profile_id}?suppress=true")
    assert api.post("/v2/profiles", examples.PROFILE, format="json").status_code == 400
    listing = reverse("admin:ingestion_suppression_changelist")
    support = as_role(SUPPORT)
    assert "lift" not in action_names(support.get(listing).content.decode())
    onboarding = as_role(ONBOARDING)
    assert "lift" in action_names(onboarding.get(listing).content.decode())
    ids = [str(pk) for pk in Suppression.objects.values_list("pk", flat=True)]
    onboarding.post(listing, {"action": "lift", "_selected_action": ids})
    assert not Suppression.objects.filter(lifted_at__isnull=True).exists()
    assert set(Suppression.objects.values_list("lifted_by", flat=True)) == {
        "onboarding"
    }
    assert api.post("/v2/profiles", examples.PROFILE, format="json").status_code == 200


def test_the_customer_page_shows_and_sets_its_retention_periods(as_role, demo):
    client = as_role(ONBOARDING)
    url = reverse("admin:mappings_customer_change", args=[demo.pk])
    html = client.get(url).content.decode()
    assert "request log 90 days" in html and "delivered sends 30 days" in html
    RetentionPeriods.objects.create(customer=demo, request_log_days=14)
    html = client.get(url).content.decode()
    assert "request log 14 days" in html
