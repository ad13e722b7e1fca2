"""The admin as the onboarding tool: pages render, and broken mappings cannot be saved."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from mappings.models import ACTIVE_NEEDS_HARD_ID, DataPointType, FieldMapping
from mappings.versions import mapping_fields_add
from tests.harness.admin import form_values
from tests.harness.customers import field_create


def test_customer_page_shows_group_keys_and_types(staff, demo):
    page = staff.get(reverse("admin:mappings_customer_change", args=[demo.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "main_group" in html
    for name in ("person", "purchase_ev", "product_a"):
        assert name in html


def test_type_page_shows_field_mappings_inline(staff, demo):
    person = demo.data_point_types.get(name="person")
    page = staff.get(reverse("admin:mappings_datapointtype_change", args=[person.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Hard-ID" in html and "Optional" in html
    assert 'value="customer_id"' in html and 'value="is_member"' in html


def test_type_list_shows_hard_id_and_filters(staff, demo):
    page = staff.get(reverse("admin:mappings_datapointtype_changelist") + "?q=purchase")
    html = page.content.decode()
    assert "purchase_ev" in html and "event_id" in html
    assert "person" not in html.split("result_list")[1]


@pytest.fixture
def employee(demo):
    """A new profile type of the demo customer, with no fields."""
    return DataPointType.objects.create(
        customer=demo, category="profile", name="employee"
    )


def save_with_field(staff, dpt, **field):
    """Saves the type's change page, active, with one new field (by default emp_no,
    an integer)."""
    values = {
        "position": 0,
        "source_field": "emp_no",
        "cdp_field": "emp_no",
        "data_type": "integer",
        **field,
    }
    data = {
        "customer": dpt.customer_id,
        "category": dpt.category,
        "name": dpt.name,
        "description": "",
        "active": "on",
        "fields-TOTAL_FORMS": "1",
        "fields-INITIAL_FORMS": "0",
        "fields-MIN_NUM_FORMS": "0",
        "fields-MAX_NUM_FORMS": "1000",
        "fields-0-data_point_type": dpt.pk,
        **{f"fields-0-{key}": value for key, value in values.items()},
    }
    url = reverse("admin:mappings_datapointtype_change", args=[dpt.pk])
    return staff.post(url, data)


def test_admin_refuses_an_active_type_without_hard_id(staff, employee):
    page = save_with_field(staff, employee)
    assert page.status_code == 200
    assert ACTIVE_NEEDS_HARD_ID in page.content.decode()
    employee.refresh_from_db()
    assert not employee.active


def _tick_active_on_the_customer_page(staff, dpt):
    url = reverse("admin:mappings_customer_change", args=[dpt.customer_id])
    values = form_values(staff.get(url), "customer")
    [index] = [
        name.split("-")[1]
        for name, value in values.items()
        if name.startswith("data_point_types-") and name.endswith("-id")
        if value == str(dpt.pk)
    ]
    values[f"data_point_types-{index}-active"] = "on"
    return staff.post(url, {**values, "_save": "Save"})


@pytest.mark.parametrize("hard_id", [False, True])
def test_the_customer_page_activates_a_type_only_with_a_hard_id(
    staff, employee, hard_id
):
    field_create(employee, "emp_no", "integer", hard_id=hard_id)
    page = _tick_active_on_the_customer_page(staff, employee)
    employee.refresh_from_db()
    assert employee.active is hard_id
    if not hard_id:
        assert page.status_code == 200
        assert ACTIVE_NEEDS_HARD_ID in page.content.decode()


def test_fields_added_without_a_hard_id_do_not_activate_the_type(employee):
    fields = [FieldMapping(source_field="emp_no", cdp_field="emp_no")]
    with pytest.raises(ValidationError, match="needs at least one Hard-ID field"):
        mapping_fields_add(
            data_point_type=employee, fields=fields, user=None, activate=True
        )
    employee.refresh_from_db()
    assert not employee.active and not employee.fields.exists()


def test_admin_saves_a_valid_type(staff, employee):
    page = save_with_field(staff, employee, hard_id="on")
    assert page.status_code == 302, page.context_data["errors"]
    employee.refresh_from_db()
    assert employee.active and employee.fields.get().hard_id


def test_admin_refuses_a_bad_format(staff, demo):
    dpt = DataPointType.objects.create(customer=demo, category="event", name="visit")
    page = save_with_field(
        staff,
        dpt,
        source_field="at",
        cdp_field="at",
        data_type="datetime",
        format="HH:MM",
        hard_id="on",
    )
    assert "is not a datetime pattern with a full date" in page.content.decode()


def test_saving_a_mapping_changes_what_the_api_enforces(staff, api, demo):
    from ingestion import examples

    assert api.post("/v2/profiles", examples.PROFILE, format="json").status_code == 200
    person = demo.data_point_types.get(name="person")
    city = person.fields.get(source_field="city")
    city.optional = False
    city.save()
    demo.refresh_from_db()  # the signed path reads the customer afresh on every request
    body = {
        **examples.PROFILE,
        "data": {k: v for k, v in examples.PROFILE["data"].items() if k != "city"},
    }
    response = api.post("/v2/profiles", body, format="json")
    assert response.json()["messages"] == ["data.city: is required"]
