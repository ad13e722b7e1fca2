"""Every change staff make in the admin to a mapping, a key or an account is recorded
with who and when, and shown on the object's history page.

Changes are made the way onboarding staff make them: open the page, change a field,
save. The record is Django's admin log (``LogEntry``); the test reads it back both from
the database and from the history page's HTML.
"""

import html
import re
from datetime import timedelta

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone
from django.utils.formats import date_format

from datatalks.roles import ONBOARDING
from ingestion.models import ApiCredential
from integrations.demo import salesmanago_demo_load
from integrations.models import IntegrationMapping, MappingEntry, SalesmanagoAccount
from mappings.models import DataPointType, FieldMapping, GroupKey
from tests.harness.admin import admin_url, form_values, submit

NEW_SECRET = "rotated-secret-Hq7Lm2Xc"


@pytest.fixture
def staff(demo, as_role):
    """An onboarding user's client, with the demo customer fully set up."""
    salesmanago_demo_load(demo)
    ApiCredential.objects.create(customer=demo, description="webshop")
    client = as_role(ONBOARDING)
    client.started = timezone.now() - timedelta(seconds=1)
    return client


def entries(obj) -> list[LogEntry]:
    """The admin log of one object, newest first."""
    return list(
        LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk)
        ).order_by("-action_time", "-pk")
    )


def history(client, name: str, obj) -> list[tuple[str, str, str]]:
    """The rows of the object's history page: (date/time, user, action)."""
    page = client.get(admin_url(name, "history", obj))
    assert page.status_code == 200
    rows = re.findall(
        r'<th scope="row">(.*?)</th>\s*<td>(.*?)</td>\s*<td>(.*?)</td>',
        page.content.decode(),
        re.S,
    )
    return [tuple(html.unescape(cell.strip()) for cell in row) for row in rows]


def assert_recorded(client, name: str, obj, *, flag: int, says: list[str]) -> LogEntry:
    """The newest log entry of ``obj`` is by the logged-in user, made just now, says
    every phrase in ``says``, and is the newest row of the history page."""
    entry = entries(obj)[0]
    user = client.session["_auth_user_id"]
    assert (entry.action_flag, str(entry.user_id)) == (flag, user)
    assert client.started <= entry.action_time <= timezone.now()
    message = entry.get_change_message()
    for phrase in says:
        assert phrase in message, message
    when, who, what = history(client, name, obj)[-1]  # oldest first
    assert who == entry.user.username and what == message
    assert when == date_format(timezone.localtime(entry.action_time), "DATETIME_FORMAT")
    return entry


def row_prefix(values: dict, prefix: str, **match) -> str:
    """The inline row (``fields-3``) whose values match, e.g. source_field="city"."""
    for i in range(int(values[f"{prefix}-TOTAL_FORMS"])):
        if all(values.get(f"{prefix}-{i}-{k}") == v for k, v in match.items()):
            return f"{prefix}-{i}"
    raise AssertionError(f"no {prefix} row with {match}")


def saved(response):
    assert response.status_code == 302, response.context and response.context["errors"]
    return response


# Mappings.


def test_a_change_to_a_type_is_recorded(staff):
    person = DataPointType.objects.get(name="person")
    url = admin_url("mappings_datapointtype", "change", person)
    saved(submit(staff, url, {"description": "Buyers"}, model_name="datapointtype"))
    assert_recorded(
        staff, "mappings_datapointtype", person, flag=CHANGE, says=["Description"]
    )


def test_field_changes_inside_a_type_are_recorded_on_the_type(staff):
    person = DataPointType.objects.get(name="person")
    url = admin_url("mappings_datapointtype", "change", person)
    values = form_values(staff.get(url), "datapointtype")
    city = row_prefix(values, "fields", **{"source_field": "city"})
    tags = row_prefix(values, "fields", **{"source_field": "tags"})
    new = f"fields-{values['fields-INITIAL_FORMS']}"
    changes = {
        f"{city}-optional": None,
        f"{tags}-DELETE": "on",
        f"{new}-position": "20",
        f"{new}-source_field": "loyalty_no",
        f"{new}-cdp_field": "loyalty_no",
        f"{new}-data_type": "string",
        f"{new}-optional": "on",
    }
    saved(submit(staff, url, changes, model_name="datapointtype"))
    assert not person.fields.get(source_field="city").optional
    assert not person.fields.filter(source_field="tags").exists()
    assert_recorded(
        staff,
        "mappings_datapointtype",
        person,
        flag=CHANGE,
        says=[
            "Changed Optional for field mapping",
            "person.city",
            "Added field mapping",
            "loyalty_no",
            "Deleted field mapping",
            "person.tags",
        ],
    )


def test_a_change_to_a_field_on_its_own_page_is_recorded(staff):
    field = FieldMapping.objects.get(
        data_point_type__name="person", source_field="is_member"
    )
    url = admin_url("mappings_fieldmapping", "change", field)
    saved(submit(staff, url, {"format": "Y/N"}, model_name="fieldmapping"))
    assert_recorded(staff, "mappings_fieldmapping", field, flag=CHANGE, says=["Format"])


def test_group_key_changes_are_recorded_on_the_key_and_on_the_customer(staff, demo):
    key = GroupKey.objects.get(customer=demo, key="main_group")
    url = admin_url("mappings_groupkey", "change", key)
    saved(submit(staff, url, {"description": "Sweden"}, model_name="groupkey"))
    assert_recorded(staff, "mappings_groupkey", key, flag=CHANGE, says=["Description"])
    customer_url = admin_url("mappings_customer", "change", demo)
    values = form_values(staff.get(customer_url), "customer")
    count = int(values["group_keys-TOTAL_FORMS"])
    # "Add another group key" (the admin's JavaScript) adds a row and counts it.
    changes = {
        "group_keys-TOTAL_FORMS": str(count + 1),
        f"group_keys-{count}-key": "norway",
        f"group_keys-{count}-description": "Norway",
    }
    saved(submit(staff, customer_url, changes, model_name="customer"))
    assert_recorded(
        staff,
        "mappings_customer",
        demo,
        flag=CHANGE,
        says=["Added group key", "norway"],
    )


def test_salesmanago_mapping_and_entry_changes_are_recorded(staff):
    mapping = IntegrationMapping.objects.get(data_point_type__name="person")
    url = admin_url("integrations_integrationmapping", "change", mapping)
    values = form_values(staff.get(url), "integrationmapping")
    city = row_prefix(values, "entries", target="contact.address.city")
    new = f"entries-{values['entries-INITIAL_FORMS']}"
    changes = {
        "enabled": None,
        f"{city}-source": "country",
        f"{new}-position": "30",
        f"{new}-kind": "constant",
        f"{new}-source": "CDP",
        f"{new}-target": "contact.company",
    }
    saved(submit(staff, url, changes, model_name="integrationmapping"))
    assert MappingEntry.objects.get(mapping=mapping, target="contact.company")
    assert_recorded(
        staff,
        "integrations_integrationmapping",
        mapping,
        flag=CHANGE,
        says=[
            "Changed Enabled",
            "Changed Source for mapping entry",
            "Added mapping entry",
        ],
    )


# Keys and accounts.


def test_creating_changing_and_deactivating_a_key_is_recorded(staff, demo):
    add = admin_url("ingestion_apicredential", "add")
    created = staff.post(
        add, {"customer": demo.pk, "environment": "staging", "description": "erp"}
    )
    # The secret's page is the answer itself (no redirect to a message in a cookie).
    assert created.status_code == 200 and "It is not shown again" in created.text
    credential = ApiCredential.objects.get(description="erp")
    first = assert_recorded(
        staff, "ingestion_apicredential", credential, flag=ADDITION, says=["Added"]
    )
    assert credential.secret_access_key not in first.object_repr
    url = admin_url("ingestion_apicredential", "change", credential)
    saved(submit(staff, url, {"description": "ERP"}, model_name="apicredential"))
    assert_recorded(
        staff, "ingestion_apicredential", credential, flag=CHANGE, says=["Description"]
    )
    staff.post(
        admin_url("ingestion_apicredential", "changelist"),
        {"_selected_action": [credential.pk], "action": "deactivate", "index": "0"},
    )
    credential.refresh_from_db()
    assert not credential.active
    assert_recorded(
        staff, "ingestion_apicredential", credential, flag=CHANGE, says=["Active"]
    )
    assert len(history(staff, "ingestion_apicredential", credential)) == 3


def test_a_new_account_secret_is_recorded_as_changed_without_its_value(staff):
    account = SalesmanagoAccount.objects.get()
    url = admin_url("integrations_salesmanagoaccount", "change", account)
    saved(
        submit(staff, url, {"api_secret": NEW_SECRET}, model_name="salesmanagoaccount")
    )
    account.refresh_from_db()
    assert account.api_secret == NEW_SECRET
    entry = assert_recorded(
        staff,
        "integrations_salesmanagoaccount",
        account,
        flag=CHANGE,
        says=["API secret"],
    )
    assert "API v3 key" not in entry.get_change_message()
    page = staff.get(admin_url("integrations_salesmanagoaccount", "history", account))
    assert NEW_SECRET not in page.content.decode()
    assert NEW_SECRET not in entry.change_message


def test_an_account_saved_without_new_secrets_records_only_what_changed(staff):
    account = SalesmanagoAccount.objects.get()
    url = admin_url("integrations_salesmanagoaccount", "change", account)
    saved(submit(staff, url, {"enabled": None}, model_name="salesmanagoaccount"))
    entry = assert_recorded(
        staff,
        "integrations_salesmanagoaccount",
        account,
        flag=CHANGE,
        says=["Enabled"],
    )
    assert "secret" not in entry.get_change_message().lower()
    assert "v3 key" not in entry.get_change_message()


def test_deleting_a_group_key_in_its_admin_is_recorded(staff, demo):
    spare = GroupKey.objects.create(customer=demo, key="spare")
    response = staff.post(
        admin_url("mappings_groupkey", "delete", spare), {"post": "yes"}
    )
    saved(response)
    [entry] = entries(spare)
    assert entry.action_flag == DELETION and entry.object_repr == "demo: spare"
    assert str(entry.user_id) == staff.session["_auth_user_id"]
