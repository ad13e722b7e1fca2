"""The onboarding model's invariants, each refused with a clear message, and the demo."""

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, transaction

from mappings.models import Category, Customer, DataPointType, FieldMapping, GroupKey


@pytest.fixture
def draft(db):
    customer = Customer.objects.create(name="Acme", slug="acme")
    return DataPointType.objects.create(
        customer=customer, category=Category.PROFILE, name="person"
    )


def field(dpt, source="customer_id", **kwargs):
    values = {"cdp_field": source, "data_type": "integer"} | kwargs
    return FieldMapping(data_point_type=dpt, source_field=source, **values)


def test_source_field_is_unique_per_type(draft):
    field(draft, cdp_field="a").save()
    with pytest.raises(ValidationError, match="source field is already mapped"):
        field(draft, cdp_field="b").full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        field(draft, cdp_field="b").save()


def test_cdp_field_is_unique_per_type(draft):
    field(draft, "a", cdp_field="same").save()
    with pytest.raises(ValidationError, match="CDP field name is already used"):
        field(draft, "b", cdp_field="same").full_clean()


def test_same_source_field_in_two_types_is_fine(draft):
    other = DataPointType.objects.create(
        customer=draft.customer, category=Category.EVENT, name="ev"
    )
    field(draft).save()
    field(other).full_clean()


def test_hard_id_field_cannot_be_optional(draft):
    with pytest.raises(ValidationError, match="A Hard-ID field cannot be optional"):
        field(draft, hard_id=True, optional=True).full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        field(draft, hard_id=True, optional=True).save()


@pytest.mark.parametrize(
    "data_type,fmt,message",
    [
        ("datetime", "HH:MM", "not a datetime pattern with a full date"),
        ("boolean", "Yes", "not two different words"),
        ("integer", "0000", "takes no format"),
        ("date", "DD/MM/YYYY", "always YYYY-MM-DD"),
    ],
)
def test_format_must_parse_for_its_data_type(draft, data_type, fmt, message):
    with pytest.raises(ValidationError, match=message):
        field(draft, data_type=data_type, format=fmt).full_clean()


def test_list_cannot_be_part_of_the_hard_id(draft):
    with pytest.raises(ValidationError, match="list cannot be part of the Hard-ID"):
        field(draft, data_type="list", hard_id=True).full_clean()


def test_only_one_default_group_key_per_customer(draft):
    GroupKey.objects.create(customer=draft.customer, key="a", is_default=True)
    with pytest.raises(ValidationError, match="exactly one default group key"):
        GroupKey(
            customer=draft.customer, key="b", is_default=True
        ).validate_constraints()


def test_reference_must_point_at_a_profile_hard_id(demo):
    purchase = demo.data_point_types.get(name="purchase_ev")
    ref = purchase.fields.get(source_field="customer_id")
    ref.references = demo.data_point_types.get(name="person").fields.get(
        source_field="email"
    )
    with pytest.raises(ValidationError, match="only Hard-ID"):
        ref.full_clean()


def test_type_names_are_readable(demo):
    person = demo.data_point_types.get(name="person")
    assert str(person) == "demo: person (profile)"
    assert (
        str(person.fields.get(source_field="customer_id"))
        == "demo: person.customer_id → customer_id"
    )
    assert str(demo.group_keys.get()) == "demo: main_group (default)"
    assert str(demo) == "Demo Customer (demo)"


def test_load_demo_is_idempotent(db, capsys):
    call_command("load_demo")
    snapshot = _demo_snapshot()
    call_command("load_demo")
    assert _demo_snapshot() == snapshot
    assert "with types: person, product_a, purchase_ev" in capsys.readouterr().out


def _demo_snapshot():
    customer = Customer.objects.get(slug="demo")
    return (
        Customer.objects.count(),
        list(customer.group_keys.values_list("key", "is_default")),
        list(
            FieldMapping.objects.filter(data_point_type__customer=customer)
            .order_by("data_point_type__name", "position")
            .values_list(
                "data_point_type__name",
                "source_field",
                "data_type",
                "format",
                "optional",
                "hard_id",
                "secondary_id",
                "references__source_field",
            )
        ),
    )


def test_demo_matches_the_issue(demo):
    person = {
        f.source_field: f for f in demo.data_point_types.get(name="person").fields.all()
    }
    assert (
        person["customer_id"].hard_id and person["customer_id"].data_type == "integer"
    )
    assert person["email"].secondary_id and person["email"].optional
    assert person["is_member"].format == "Yes/No"
    purchase = demo.data_point_types.get(name="purchase_ev")
    assert purchase.category == "event"
    assert (
        purchase.fields.get(source_field="customer_id").references
        == person["customer_id"]
    )
    assert demo.group_keys.get().key == "main_group"
