"""Sports and Retail templates: applied in one step, idempotent, then editable."""

import pytest
from django.urls import reverse

from ingestion.customer_schema import example_body
from ingestion.services import datapoint_try
from mappings.models import (
    FIELD_RULES,
    Customer,
    DataPointType,
    FieldMapping,
    GroupKey,
)
from mappings.onboarding_templates import TEMPLATES, template_apply
from mappings.spec import spec_for_customer
from tests.harness.customers import caller_for


@pytest.fixture
def club(db):
    return Customer.objects.create(name="IFK Exempel", slug="ifk")


def mapping_state(customer) -> list[tuple]:
    """Everything a template writes, as comparable rows."""
    return sorted(
        FieldMapping.objects.filter(data_point_type__customer=customer).values_list(
            "data_point_type__name",
            "data_point_type__category",
            "data_point_type__active",
            "data_point_type__version",
            *FIELD_RULES,
            "references__data_point_type__name",
            "references__source_field",
            "position",
        )
    )


def test_sports_creates_the_types_with_hard_ids_and_links_events_to_supporters(club):
    result = template_apply(customer=club, key="sports", user=None)
    types = {t.name: t for t in club.data_point_types.all()}
    assert set(types) == {
        "supporter",
        "ticket_purchase",
        "stadium_access",
        "food_beverage_purchase",
        "match_ticket",
    }
    assert result.created_types == [t.name for t in TEMPLATES["sports"].types]
    assert all(
        t.active and t.fields.filter(hard_id=True).count() == 1 for t in types.values()
    )
    supporter_id = types["supporter"].fields.get(hard_id=True)
    for event in ("ticket_purchase", "stadium_access", "food_beverage_purchase"):
        link = types[event].fields.get(source_field="supporter_id")
        assert link.references == supporter_id and not link.optional
    assert types["supporter"].fields.get(source_field="email").secondary_id
    assert all(t.version == 1 and t.versions.count() == 1 for t in types.values())
    assert GroupKey.objects.get(customer=club).is_default


def test_retail_creates_customer_purchase_return_and_product(club):
    template_apply(customer=club, key="retail", user=None)
    types = dict(club.data_point_types.values_list("name", "category"))
    assert types == {
        "customer": "profile",
        "purchase": "event",
        "return": "event",
        "product": "inventory",
    }
    purchase = club.data_point_types.get(name="purchase")
    link = purchase.fields.get(source_field="customer_id")
    assert link.references.data_point_type.name == "customer"


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_applying_twice_gives_the_same_result(club, key):
    template_apply(customer=club, key=key, user=None)
    once = mapping_state(club)
    again = template_apply(customer=club, key=key, user=None)
    assert not again.changed
    assert mapping_state(club) == once
    assert GroupKey.objects.filter(customer=club).count() == 1


def test_reapplying_keeps_staff_edits_and_adds_only_what_is_missing(club):
    template_apply(customer=club, key="retail", user=None)
    product = club.data_point_types.get(name="product")
    product.fields.filter(source_field="size").update(data_type="integer")
    product.fields.filter(source_field="color").delete()
    result = template_apply(customer=club, key="retail", user=None)
    assert result.added_fields == {"product": ["color"]}
    assert product.fields.get(source_field="size").data_type == "integer"
    product.refresh_from_db()
    assert product.version == 2  # the re-added field is a new version of product only
    assert club.data_point_types.get(name="customer").version == 1


def test_a_type_of_another_category_with_the_same_name_is_left_alone(club):
    GroupKey.objects.create(customer=club, key="main", is_default=True)
    DataPointType.objects.create(customer=club, category="profile", name="purchase")
    result = template_apply(customer=club, key="retail", user=None)
    assert "purchase: exists as a profile type" in result.skipped[0]
    assert not club.data_point_types.get(name="purchase").fields.exists()
    assert not result.group_key_created


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_every_template_type_accepts_its_documented_example(club, key):
    template_apply(customer=club, key=key, user=None)
    club.refresh_from_db()
    spec = spec_for_customer(customer=club)
    paths = {"profile": "profile", "event": "event", "inventory": "inventory"}
    for type_template in TEMPLATES[key].types:
        body = example_body(spec.types[type_template.name], spec)
        result = datapoint_try(
            caller=caller_for(club),
            category=paths[type_template.category],
            version="v2",
            body=body,
        )
        assert result.datatalks_id


# The admin ---------------------------------------------------------------------------


def test_the_changelist_action_applies_a_template(staff, club):
    def apply_sports_template() -> str:
        page = staff.post(
            reverse("admin:mappings_customer_changelist"),
            {"action": "apply_sports_template", "_selected_action": [club.pk]},
            follow=True,
        )
        return page.content.decode()

    html = apply_sports_template()
    assert "Sports template applied to IFK Exempel: created supporter" in html
    assert club.data_point_types.count() == 5
    html = apply_sports_template()
    assert "already has every type and field of the Sports template" in html


def test_the_customer_page_previews_then_applies_a_template(staff, club):
    change = staff.get(reverse("admin:mappings_customer_change", args=[club.pk]))
    url = reverse("admin:mappings_customer_template", args=[club.pk, "retail"])
    assert url in change.content.decode()
    preview = staff.get(url)
    html = preview.content.decode()
    assert "new type" in html and "<code>order_id</code>" in html
    assert not club.data_point_types.exists()  # a preview writes nothing
    applied = staff.post(url)
    assert applied.status_code == 302
    assert club.data_point_types.count() == 4
    assert "up to date" in staff.get(url).content.decode()


def test_an_unknown_template_is_a_404(staff, club):
    url = reverse("admin:mappings_customer_template", args=[club.pk, "farming"])
    assert staff.get(url).status_code == 404
