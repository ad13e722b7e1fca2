"""The Salesmanago pages of the admin refuse what cannot be sent safely: mapping
entries that would break delivery, and account URLs that are not Salesmanago's."""

import pytest

from datatalks.roles import ONBOARDING
from integrations.demo import salesmanago_demo_load
from integrations.models import IntegrationMapping, MappingEntry, SalesmanagoAccount
from tests.datatalks.test_audit import row_prefix
from tests.harness.admin import admin_url, form_values, submit


@pytest.fixture
def staff(demo, as_role):
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


@pytest.mark.parametrize(
    "source,says",
    [
        ("event_type", "a string field"),
        ("online_purchase", "a boolean field"),
        ("no_such_field", "not a field of this type"),
    ],
)
def test_a_number_conversion_of_a_field_that_is_not_numeric_is_refused(
    staff, source, says
):
    answer = save_entry(
        staff,
        "purchase_ev",
        kind="string",
        source=source,
        target="contactEvent.detail5",
        conversion="number",
    )
    assert says in errors_of(answer)
    assert not MappingEntry.objects.filter(target="contactEvent.detail5").exists()


def test_a_number_conversion_of_a_numeric_field_or_the_profiles_is_saved(staff):
    for target, source in [
        ("contactEvent.detail5", "purchase_points"),
        ("contactEvent.detail6", "profile.age"),
    ]:
        answer = save_entry(
            staff,
            "purchase_ev",
            kind="string",
            source=source,
            target=target,
            conversion="number",
        )
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


# -- accounts --------------------------------------------------------------------------


@pytest.fixture
def account(staff, sandbox):
    account = SalesmanagoAccount.objects.get()
    account.base_url = account.v3_base_url = sandbox.url
    account.api_secret, account.v3_api_key = "stored-secret-1", "stored-v3-key-1"
    account.save()
    return account


def change_account(staff, account, **changes):
    url = admin_url("integrations_salesmanagoaccount", "change", account)
    return submit(staff, url, changes, model_name="salesmanagoaccount")


@pytest.mark.parametrize(
    "url,says",
    [
        ("http://169.254.169.254/latest/meta-data", "https://"),
        ("https://app3.salesmanago.com/api/x", "no path"),
        ("https://169.254.169.254", "not an IP address"),
        ("https://10.0.0.1", "not an IP address"),
        ("https://user:pw@app3.salesmanago.com", "no user name"),
        ("https://app3.salesmanago.com/#", "fragment"),
        ("https://evil.example", "not a Salesmanago host"),
        ("http://app3.salesmanago.com", "https://"),
    ],
)
def test_staff_cannot_point_an_account_elsewhere(staff, account, url, says):
    for field in ("base_url", "v3_base_url"):
        answer = change_account(staff, account, **{field: url, "api_secret": "x"})
        assert says in errors_of(answer), field
    account.refresh_from_db()
    assert account.base_url == account.v3_base_url != url


def test_the_loopback_sandbox_needs_the_development_setting(staff, account, settings):
    settings.SALESMANAGO_ALLOW_LOOPBACK = False
    answer = change_account(staff, account, enabled=None)
    assert "only in development" in errors_of(answer)


def test_a_new_url_needs_the_secrets_typed_again(staff, account, settings):
    settings.SALESMANAGO_ALLOW_LOOPBACK = False
    new = "https://app2.salesmanago.pl"
    answer = change_account(staff, account, base_url=new, v3_base_url=new)
    assert "type the API secret" in errors_of(answer)
    account.refresh_from_db()
    assert account.api_secret == "stored-secret-1"  # nothing saved
    answer = change_account(
        staff, account, base_url=new, v3_base_url=new, api_secret="typed-again-2"
    )
    assert answer.status_code == 302, answer.context["errors"]
    account.refresh_from_db()
    assert (account.base_url, account.api_secret) == (new, "typed-again-2")
    assert account.v3_api_key == ""  # not typed again: cleared, never sent to new


def test_an_unchanged_url_keeps_the_stored_secrets(staff, account):
    answer = change_account(staff, account, client_id="renamed")
    assert answer.status_code == 302, answer.context["errors"]
    account.refresh_from_db()
    assert (account.api_secret, account.v3_api_key) == (
        "stored-secret-1",
        "stored-v3-key-1",
    )


@pytest.mark.parametrize("field", ["api_secret", "v3_api_key"])
def test_a_secret_too_short_to_scrub_is_refused(staff, account, field):
    answer = change_account(staff, account, **{field: "x" * 7})
    assert "at least 8 characters" in errors_of(answer)
    account.refresh_from_db()
    assert (account.api_secret, account.v3_api_key) == (
        "stored-secret-1",
        "stored-v3-key-1",
    )
