"""The Salesmanago pages of the admin refuse what cannot be sent safely: mapping
entries that would break delivery, and account URLs that are not Salesmanago's."""

import pytest

from datatalks.roles import ONBOARDING
from integrations.demo import salesmanago_demo_load
from integrations.models import IntegrationMapping, MappingEntry
from tests.datatalks.conftest import as_role  # noqa: F401 (the fixture)
from tests.datatalks.test_audit import row_prefix
from tests.harness.admin import admin_url, form_values, submit


@pytest.fixture
def staff(demo, as_role):  # noqa: F811 (the fixture imported above)
    salesmanago_demo_load(demo)
    return as_role(ONBOARDING)


def save_entry(staff, type_name: str, **fields):
    """Adds a mapping entry on the type's Salesmanago mapping page; the response."""
    mapping = IntegrationMapping.objects.get(data_point_type__name=type_name)
    url = admin_url("integrations_integrationmapping", "change", mapping)
    values = form_values(staff.get(url), "integrationmapping")
    new = f"entries-{values['entries-INITIAL_FORMS']}"
    changes = {f"{new}-{name}": value for name, value in fields.items()}
    changes.setdefault(f"{new}-position", "50")
    return submit(staff, url, changes, model_name="integrationmapping")


def errors_of(response) -> str:
    assert response.status_code == 200, "the form was saved"
    return " ".join(str(e) for e in response.context["errors"])


@pytest.mark.parametrize("source,says", [
    ("event_type", "a string field"),
    ("online_purchase", "a boolean field"),
    ("no_such_field", "not a field of this type"),
])  # fmt: skip
def test_a_number_conversion_of_a_field_that_is_not_numeric_is_refused(
    staff, source, says
):
    answer = save_entry(
        staff, "purchase_ev", kind="string", source=source,
        target="contactEvent.detail5", conversion="number",
    )  # fmt: skip
    assert says in errors_of(answer)
    assert not MappingEntry.objects.filter(target="contactEvent.detail5").exists()


def test_a_number_conversion_of_a_numeric_field_or_the_profiles_is_saved(staff):
    for target, source in [
        ("contactEvent.detail5", "purchase_points"),
        ("contactEvent.detail6", "profile.age"),
    ]:
        answer = save_entry(
            staff, "purchase_ev", kind="string", source=source, target=target,
            conversion="number",
        )  # fmt: skip
        assert answer.status_code == 302, answer.context["errors"]
    assert MappingEntry.objects.filter(conversion="number").count() == 3


@pytest.mark.parametrize("template", ["{name}", "{0}", "{field:>50000000}"])
def test_a_name_template_with_more_than_field_placeholders_is_refused(staff, template):
    mapping = IntegrationMapping.objects.get(data_point_type__name="person")
    url = admin_url("integrations_integrationmapping", "change", mapping)
    values = form_values(staff.get(url), "integrationmapping")
    row = row_prefix(values, "entries", target="properties")
    answer = submit(
        staff, url, {f"{row}-name_template": template}, model_name="integrationmapping"
    )
    assert "name template takes only" in errors_of(answer)
    assert MappingEntry.objects.get(target="properties").name_template == "{field}"
