"""Mapping versions: one per save of a type's mapping, shown in the admin, and named by
every request log row, so "why was this rejected yesterday" has an answer."""

import copy

from django.urls import reverse

from ingestion import examples
from ingestion.models import RequestLog
from mappings.models import FIELD_RULES, DataPointType, FieldMapping, MappingVersion
from mappings.spec import spec_for_customer
from mappings.versions import mapping_version_create, snapshot_changes
from tests.harness.admin import as_submitted

INLINE_KEYS = ["position", *FIELD_RULES, "references"]


def type_form(dpt, **edits) -> dict:
    """The type's change form as the browser submits it, with ``edits`` by source."""
    fields = list(dpt.fields.order_by("position", "id"))
    data = {
        "customer": dpt.customer_id,
        "category": dpt.category,
        "name": dpt.name,
        "description": dpt.description,
        "fields-TOTAL_FORMS": len(fields),
        "fields-INITIAL_FORMS": len(fields),
        "fields-MIN_NUM_FORMS": 0,
        "fields-MAX_NUM_FORMS": 1000,
    }
    if dpt.active:
        data["active"] = "on"
    for i, field in enumerate(fields):
        values = {key: getattr(field, key) for key in INLINE_KEYS}
        values["references"] = field.references_id
        values.update(edits.get(field.source_field, {}))
        data[f"fields-{i}-id"] = field.pk
        data[f"fields-{i}-data_point_type"] = dpt.pk
        data.update(as_submitted(f"fields-{i}-", values))
    return data


def save_type(staff, dpt, **edits):
    url = reverse("admin:mappings_datapointtype_change", args=[dpt.pk])
    page = staff.post(url, type_form(dpt, **edits))
    assert page.status_code == 302, page.context and page.context["errors"]
    dpt.refresh_from_db()


def test_one_save_of_many_fields_is_one_version(staff, demo):
    person = demo.data_point_types.get(name="person")
    # load_demo saved the demo's fields as version 1, as any first save is.
    assert list(person.versions.values_list("version", flat=True)) == [1]
    assert person.version == 1
    save_type(
        staff,
        person,
        age={"optional": False},
        city={"data_type": "email"},
        country={"format": ""},
    )
    version = person.versions.get(version=2)
    assert person.version == 2
    assert version.created_by.username == "staff"
    snapshot = {f["source_field"]: f for f in version.fields}
    assert snapshot["age"]["optional"] is False
    assert snapshot["city"]["data_type"] == "email"
    assert snapshot["is_member"]["format"] == "Yes/No"
    save_type(staff, person)
    assert list(person.versions.values_list("version", flat=True)) == [3, 2, 1]


def test_a_type_added_in_the_admin_starts_at_version_one(staff, demo):
    data = {
        "customer": demo.pk,
        "category": "profile",
        "name": "employee",
        "description": "",
        "active": "on",
        "fields-TOTAL_FORMS": 1,
        "fields-INITIAL_FORMS": 0,
        "fields-MIN_NUM_FORMS": 0,
        "fields-MAX_NUM_FORMS": 1000,
        "fields-0-position": 0,
        "fields-0-source_field": "emp_no",
        "fields-0-cdp_field": "emp_no",
        "fields-0-data_type": "integer",
        "fields-0-hard_id": "on",
    }
    page = staff.post(reverse("admin:mappings_datapointtype_add"), data)
    assert page.status_code == 302
    employee = DataPointType.objects.get(name="employee")
    assert employee.version == 1
    [version] = employee.versions.all()
    assert (
        version.fields[0]["source_field"] == "emp_no" and version.fields[0]["hard_id"]
    )


def test_a_field_changed_or_deleted_on_its_own_page_is_a_new_version(staff, demo):
    purchase = demo.data_point_types.get(name="purchase_ev")
    field = purchase.fields.get(source_field="status")
    url = reverse("admin:mappings_fieldmapping_change", args=[field.pk])
    form = {key: getattr(field, key) for key in INLINE_KEYS if key != "references"}
    form = {k: ("on" if v is True else v) for k, v in form.items() if v is not False}
    page = staff.post(url, {**form, "data_point_type": purchase.pk, "format": ""})
    assert page.status_code == 302
    purchase.refresh_from_db()
    assert purchase.version == 2
    delete = reverse("admin:mappings_fieldmapping_delete", args=[field.pk])
    assert staff.post(delete, {"post": "yes"}).status_code == 302
    purchase.refresh_from_db()
    assert purchase.version == 3
    [latest] = purchase.versions.all()[:1]
    assert "status" not in [f["source_field"] for f in latest.fields]


def test_a_field_moved_to_another_type_versions_both(staff, demo):
    person = demo.data_point_types.get(name="person")
    product = demo.data_point_types.get(name="product_a")
    field = person.fields.get(source_field="city")
    form = {key: getattr(field, key) for key in INLINE_KEYS if key != "references"}
    form = {k: ("on" if v is True else v) for k, v in form.items() if v is not False}
    url = reverse("admin:mappings_fieldmapping_change", args=[field.pk])
    assert staff.post(url, {**form, "data_point_type": product.pk}).status_code == 302
    person.refresh_from_db()
    product.refresh_from_db()
    assert (person.version, product.version) == (2, 2)
    moved = person.versions.get(version=2).fields
    assert "city" not in [f["source_field"] for f in moved]


def test_a_new_version_reaches_the_compiled_spec(demo):
    person = demo.data_point_types.get(name="person")
    mapping_version_create(data_point_type=person, user=None)
    demo.refresh_from_db()
    assert spec_for_customer(customer=demo).types["person"].version == 2


def test_changes_between_versions_are_told_per_field():
    before = [
        {"source_field": "email", "data_type": "email", "optional": True},
        {"source_field": "age", "data_type": "integer", "optional": True},
    ]
    after = [
        {"source_field": "email", "data_type": "email", "optional": False},
        {"source_field": "city", "data_type": "string", "optional": True},
    ]
    assert snapshot_changes(before, after) == [
        "added city",
        "removed age",
        "email.optional: true → false",
    ]
    assert snapshot_changes(None, after) == ["2 fields"]


def test_the_type_page_and_the_version_page_show_the_history(staff, demo):
    person = demo.data_point_types.get(name="person")
    save_type(staff, person)
    save_type(staff, person, email={"optional": False})
    page = staff.get(reverse("admin:mappings_datapointtype_change", args=[person.pk]))
    html = page.content.decode()
    assert 'id="version-history"' in html and "email.optional: true → false" in html
    v3 = person.versions.get(version=3)
    detail = staff.get(reverse("admin:mappings_mappingversion_change", args=[v3.pk]))
    assert detail.status_code == 200 and "is_member" in detail.content.decode()
    assert staff.get(reverse("admin:mappings_mappingversion_add")).status_code == 403


def test_why_was_this_rejected_yesterday(
    live_server, staff, demo, api_key, signed_post
):
    """A payload accepted under one version and rejected under the next: the request
    log names both versions, and their snapshots say what changed."""
    person = demo.data_point_types.get(name="person")
    save_type(staff, person)
    body = copy.deepcopy(examples.PROFILE)
    del body["data"]["email"]
    accepted = signed_post(live_server.url + "/v2/profiles", body, *api_key)
    assert accepted.status_code == 200
    save_type(staff, person, email={"optional": False})
    refused = signed_post(live_server.url + "/v2/profiles", body, *api_key)
    assert refused.status_code == 400
    first = RequestLog.objects.get(request_id=accepted.json()["requestId"])
    second = RequestLog.objects.get(request_id=refused.json()["requestId"])
    assert (first.mapping_version, second.mapping_version) == (2, 3)
    assert second.messages == ["data.email: is required"]
    then, now = (
        MappingVersion.objects.get(data_point_type=person, version=v).fields
        for v in (first.mapping_version, second.mapping_version)
    )
    assert snapshot_changes(then, now) == ["email.optional: true → false"]
    log_page = staff.get(reverse("admin:ingestion_requestlog_changelist"))
    assert "person v3" in log_page.content.decode()


def test_the_inline_field_admin_refuses_nothing_it_used_to(staff, demo):
    """Versioning adds no required form data: a plain save of a field still works."""
    person = demo.data_point_types.get(name="person")
    FieldMapping.objects.filter(data_point_type=person, source_field="tags").delete()
    save_type(staff, person)
    assert person.versions.count() == 2
