"""What each demo data point becomes in Salesmanago (pure builders, no I/O)."""

import pytest

from integrations import demo as demo_mappings
from integrations.salesmanago.payloads import (
    Entry,
    PayloadError,
    build_item,
    check_entry,
    require,
)

PERSON = {
    "customer_id": 12345,
    "first_name": "Juliana",
    "last_name": "Crane",
    "email": "juliana.crane@fake.com",
    "age": 32,
    "birth_date": "1990-05-17",
    "postal_code": "111 17",
    "address": "Kungsbroplan 3",
    "city": "Stockholm",
    "country": "Sweden",
    "is_member": True,
    "tags": ["VIP", "NEWSLETTER"],
}
PURCHASE = {
    "event_id": "848ASHC382392AHSJA",
    "event_type": "Purchase",
    "event_datetime": "2021-03-18T11:35:24",
    "customer_id": 12345,
    "status": "Confirmed",
    "payment_method": "Debit Card",
    "total_purchase_amount": "123.75",
    "currency": "Euros",
}
PRODUCT = {
    "item_id": "AB-192910",
    "inventory_type": "Product",
    "name": "Milk",
    "item_modified": "2020-12-03T17:23:21",
    "category": "Dairy Products",
    "subcategory": "Cow Milk",
    "brand": "Milky",
    "size": "1.0L",
    "type": "Light",
}


def built(rows, data, *, profile=None, time_zone="UTC"):
    """The item build_item makes of ``data`` with the mapping ``rows`` (tuples of
    Entry's fields, as in integrations.demo)."""
    return build_item(
        [Entry(*row) for row in rows], data, profile=profile, time_zone=time_zone
    )


def test_person_becomes_a_contact():
    item = built(demo_mappings.CONTACT, PERSON, time_zone="Europe/Stockholm")
    assert item == {
        "contact": {
            "email": "juliana.crane@fake.com",
            "name": "Juliana Crane",
            "externalId": "12345",
            "address": {
                "streetAddress": "Kungsbroplan 3",
                "zipCode": "111 17",
                "city": "Stockholm",
                "country": "Sweden",
            },
        },
        "birthday": "19900517",
        "tags": ["VIP", "NEWSLETTER"],
        "properties": {"age": "32", "is_member": "true"},
    }


def test_purchase_becomes_an_external_event_of_the_linked_contact():
    item = built(
        demo_mappings.PURCHASE, PURCHASE, profile=PERSON, time_zone="Europe/Stockholm"
    )
    assert item == {
        "email": "juliana.crane@fake.com",
        "contactEvent": {
            "contactExtEventType": "PURCHASE",
            "date": 1616063724000,  # 11:35:24 in Stockholm (CET) is 10:35:24 UTC
            "value": 123.75,
            "externalId": "848ASHC382392AHSJA",
            "description": "Purchase",
            "detail1": "Debit Card",
            "detail2": "Confirmed",
            "detail3": "Euros",
        },
    }


def test_datetime_uses_the_customers_time_zone():
    rows = [("string", "event_datetime", "contactEvent.date", "epoch_ms", "")]
    utc = built(rows, PURCHASE, time_zone="UTC")
    stockholm = built(rows, PURCHASE, time_zone="Europe/Stockholm")
    assert (
        utc["contactEvent"]["date"] - stockholm["contactEvent"]["date"] == 3600 * 1000
    )


def test_product_becomes_a_catalog_product():
    item = built(demo_mappings.PRODUCT, PRODUCT, time_zone="UTC")
    assert item == {
        "productId": "AB-192910",
        "name": "Milk",
        "mainCategory": "Dairy Products",
        "categories": ["Dairy Products", "Cow Milk"],
        "customDetails": {
            "detail1": "Milky",
            "detail2": "1.0L",
            "detail3": "Light",
            "detail4": "Product",
        },
    }


def test_null_values_are_left_out():
    item = built(
        demo_mappings.CONTACT,
        {"email": "a@b.se", "first_name": None, "last_name": None},
        time_zone="UTC",
    )
    assert item == {"contact": {"email": "a@b.se"}}


def test_missing_required_target_is_a_payload_error():
    with pytest.raises(PayloadError, match=r"no contact\.email"):
        require({"contact": {"name": "x"}}, "contact.email")


@pytest.mark.parametrize(
    "kind,source,target,conversion",
    [
        ("magic", "a", "contact.email", ""),
        ("string", "a", "contact..email", ""),
        ("dynamic", "no template", "contact.name", ""),
        ("string", "a", "contact.email", "rot13"),
    ],
)
def test_broken_entries_are_refused(kind, source, target, conversion):
    with pytest.raises(ValueError):
        check_entry(kind, source, target, conversion)


@pytest.mark.parametrize(
    "value",
    [
        "abc",
        "12,50",
        True,
        ["1"],
        {"a": 1},
        "Infinity",
        "-inf",
        "NaN",
        "1e2000000",
        "1e-31",
        "١٢٣",
        "12" * 30,
        float("inf"),
        float("nan"),
        10**40,
    ],
)
def test_a_number_conversion_refuses_what_is_not_a_bounded_number(value):
    entry = Entry("string", "amount", "contactEvent.value", "number")
    with pytest.raises(PayloadError):
        build_item([entry], {"amount": value}, profile=None, time_zone="UTC")


@pytest.mark.parametrize(
    "value,number",
    [
        ("123.75", 123.75),
        (12, 12),
        ("1e3", 1000),
        ("-0.5", -0.5),
        (2.5, 2.5),
        ("0", 0),
        ("+7", 7),
        ("1e30", 10**30),
        (-(10**18), -(10**18)),
    ],
)
def test_a_number_conversion_keeps_plain_numbers(value, number):
    entry = Entry("string", "amount", "contactEvent.value", "number")
    item = build_item([entry], {"amount": value}, profile=None, time_zone="UTC")
    assert item["contactEvent"]["value"] == number


@pytest.mark.parametrize(
    "template",
    [
        "{name}",
        "{0}",
        "{field:>50000000}",
        "{field.__class__}",
        "{field[0]}",
        "{field!r}",
        "{",
        "x}",
    ],
)
def test_a_property_name_template_takes_only_field_placeholders(template):
    entry = Entry("dynamic", "age", "properties", "", template)
    with pytest.raises(PayloadError, match="name template"):
        build_item([entry], {"age": 30}, profile=None, time_zone="UTC")
    with pytest.raises(ValueError, match="name template"):
        check_entry("dynamic", "age", "properties", "", template)


def test_a_property_name_template_is_substituted_not_formatted():
    entry = Entry("dynamic", "age, city", "properties", "", "cdp_{field}_{Field}")
    item = build_item(
        [entry], {"age": 30, "city": "Malmö"}, profile=None, time_zone="UTC"
    )
    assert item["properties"] == {"cdp_age_Age": "30", "cdp_city_City": "Malmö"}


def test_a_template_longer_than_the_bound_fails_the_item():
    entry = Entry("dynamic", "{first} {last}", "contact.name", "")
    values = {"first": "a" * 1500, "last": "b" * 1500}
    with pytest.raises(PayloadError, match="3,001 characters"):
        build_item([entry], values, profile=None, time_zone="UTC")


@pytest.mark.parametrize(
    "source",
    [
        "{first_name:>9} x",
        "{first_name!r}",
        "{first_name[0]}",
        "{0}",
        "{first_name} }",
        "{{first_name}}",
    ],
)
def test_a_value_template_takes_only_field_placeholders(source):
    with pytest.raises(ValueError, match="only"):
        check_entry("dynamic", source, "contact.name", "")


TYPES = {
    "amount": "decimal",
    "age": "integer",
    "city": "string",
    "profile.score": "float",
    "flag": "boolean",
}


@pytest.mark.parametrize(
    "kind,source",
    [
        ("string", "amount"),
        ("string", "age"),
        ("string", "profile.score"),
        ("constant", "12.5"),
    ],
)
def test_a_number_reads_a_numeric_field_or_constant(kind, source):
    check_entry(kind, source, "contactEvent.value", "number", field_types=TYPES)


@pytest.mark.parametrize(
    "kind,source,says",
    [
        ("string", "city", "a string field"),
        ("string", "flag", "a boolean field"),
        ("string", "missing", "not a field of this type"),
        ("list", "amount", "single field"),
        ("dynamic", "{amount}", "single field"),
        ("constant", "12,5", "not a number"),
    ],
)
def test_a_number_from_anything_else_is_refused_on_save(kind, source, says):
    with pytest.raises(ValueError, match=says):
        check_entry(kind, source, "contactEvent.value", "number", field_types=TYPES)
