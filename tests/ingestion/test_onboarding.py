"""Onboarding to Salesmanago in one flow: the checklist on the customer's page, the
warnings that name what keeps accepted data from being sent, mapping targets chosen
from Salesmanago's fields, and forms that offer only the customer's own objects."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from ingestion.credentials import credential_create
from ingestion.onboarding import onboarding_checklist
from integrations.models import IntegrationMapping, MappingEntry, SalesmanagoAccount
from integrations.salesmanago.payloads import TARGETS, check_entry
from mappings.models import FieldMapping, GroupKey
from tests.harness.customers import make_customer


def states(customer) -> dict[str, bool]:
    return {step.key: step.done for step in onboarding_checklist(customer=customer)}


def account_for(customer, **fields) -> SalesmanagoAccount:
    return SalesmanagoAccount.objects.create(
        customer=customer,
        group_key=customer.group_keys.get(),
        base_url="http://127.0.0.1:9",
        v3_base_url="http://127.0.0.1:9",
        client_id="c",
        api_secret="s",
        owner_email="o@example.com",
        **fields,
    )


def map_person(customer) -> IntegrationMapping:
    mapping = IntegrationMapping.objects.create(
        data_point_type=customer.data_point_types.get(name="person")
    )
    MappingEntry.objects.create(mapping=mapping, source="email", target="contact.email")
    return mapping


def test_the_checklist_follows_a_new_customer_step_by_step(db):
    acme = make_customer("acme")
    assert states(acme) == {
        "group_keys": True,
        "types": True,
        "api_key": False,
        "accounts": False,
        "mappings": False,
        "tried": False,
        "first_data": False,
        "first_delivery": False,
    }
    credential_create(customer=acme)
    acme.salesmanago_enabled = True
    acme.save()
    account_for(acme)
    assert states(acme)["api_key"] and states(acme)["accounts"]
    steps = {s.key: s for s in onboarding_checklist(customer=acme)}
    assert steps["mappings"].detail == "Not mapped: person"
    assert steps["mappings"].link.endswith(
        f"?data_point_type={acme.data_point_types.get().pk}"
    )
    map_person(acme)
    assert states(acme)["mappings"]


def test_the_customer_page_shows_the_checklist_and_what_is_not_sent(staff, db):
    acme = make_customer("acme")
    acme.salesmanago_enabled = True
    acme.save()
    page = staff.get(reverse("admin:mappings_customer_change", args=[acme.pk]))
    html = page.content.decode()
    assert 'id="onboarding-checklist"' in html
    assert html.count('class="todo"') == 6
    assert "Group key main_group has no enabled production Salesmanago account" in html
    assert (
        "person has no Salesmanago mapping: its data is stored and never sent" in html
    )
    assert reverse("admin:integrations_salesmanagoaccount_add") in html


def try_payload(staff, customer, body: dict):
    """The admin's Try a payload page after sending ``body`` to v3/profiles."""
    form = {
        "customer": customer.pk,
        "endpoint": "v3/profiles",
        "environment": "production",
        "body": json.dumps(body),
    }
    return staff.post(reverse("admin:mappings_customer_try"), form)


def test_try_a_payload_names_the_missing_mapping_and_records_the_try(staff, db):
    acme = make_customer("acme")
    acme.salesmanago_enabled = True
    acme.save()
    credential_create(customer=acme)
    account_for(acme)
    body = {"type": "person", "data": {"customer_id": 7, "email": "a@example.com"}}
    page = try_payload(staff, acme, body)
    assert page.context["outcome"].status == 200
    assert page.context["outcome"].warnings == [
        "person has no Salesmanago mapping: its data is stored and never sent."
    ]
    acme.refresh_from_db()
    assert acme.payload_tried_at is not None
    map_person(acme)
    page = try_payload(staff, acme, body)
    assert page.context["outcome"].warnings == []
    assert page.context["outcome"].salesmanago[0]["item"]["contact"]["email"]


@pytest.mark.parametrize(
    "category,target",
    [
        ("profile", "contactEvent.detail1"),
        ("event", "contact.email"),
        ("inventory", "tags"),
        ("event", "contactEvent.detail21"),
    ],
)
def test_a_target_outside_the_category_s_salesmanago_fields_is_refused(
    category, target
):
    with pytest.raises(ValueError, match="not a field of a Salesmanago"):
        check_entry("string", "x", target, "", category=category)


def test_the_mapping_form_offers_the_type_s_targets_and_fields(staff, demo):
    person = demo.data_point_types.get(name="person")
    IntegrationMapping.objects.filter(data_point_type=person).delete()
    url = reverse("admin:integrations_integrationmapping_add")
    html = staff.get(url + f"?data_point_type={person.pk}").content.decode()
    for target in TARGETS["profile"]:
        assert f'<option value="{target}">' in html
    assert 'value="contactEvent.date"' not in html
    assert '<option value="first_name">' in html  # a datalist of person's fields
    mapping = IntegrationMapping.objects.create(data_point_type=person)
    entry = MappingEntry(mapping=mapping, source="email", target="productId")
    with pytest.raises(ValidationError):
        entry.full_clean()


def test_forms_offer_only_the_customer_s_own_objects(staff, demo):
    acme = make_customer("acme")
    purchase = demo.data_point_types.get(name="purchase_ev")
    html = staff.get(
        reverse("admin:mappings_datapointtype_change", args=[purchase.pk])
    ).content.decode()
    theirs = FieldMapping.objects.get(data_point_type__customer=acme, hard_id=True)
    ours = FieldMapping.objects.get(
        data_point_type__name="person", hard_id=True, data_point_type__customer=demo
    )
    assert f'value="{ours.pk}"' in html and f'value="{theirs.pk}"' not in html
    assert "demo: person.customer_id → customer_id" in html
    account_add = reverse("admin:integrations_salesmanagoaccount_add")
    html = staff.get(f"{account_add}?customer={acme.pk}").content.decode()
    assert "acme: main_group (default)" in html and "demo: main_group" not in html


def test_a_new_customer_s_only_group_key_is_its_default(staff, db):
    management = {
        f"{prefix}-{name}": value
        # The customer page's inlines: group keys, types, retention periods.
        for prefix in ("group_keys", "data_point_types", "retention")
        for name, value in (
            ("TOTAL_FORMS", "0"),
            ("INITIAL_FORMS", "0"),
            ("MIN_NUM_FORMS", "0"),
            ("MAX_NUM_FORMS", "1000"),
        )
    }
    page = staff.post(
        reverse("admin:mappings_customer_add"),
        {
            "name": "Acme",
            "slug": "acme",
            "active": "on",
            "time_zone": "Europe/Stockholm",
            **management,
            "group_keys-TOTAL_FORMS": "1",
            "group_keys-0-key": "main_group",
        },
    )
    assert page.status_code == 302, page.context and page.context["errors"]
    [key] = GroupKey.objects.filter(customer__slug="acme")
    assert key.is_default
