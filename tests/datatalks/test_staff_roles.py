"""Staff roles in the admin: onboarding edits mappings but never sees a secret again;
support looks at requests, deliveries and data points and changes nothing.

Every check goes through the admin's pages as a logged-in member of the group that
``manage.py setup_roles`` creates, and reads the HTML a browser would get.
"""

from io import StringIO

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command

from datatalks.roles import ONBOARDING, ROLES, SUPPORT, role_codenames
from ingestion import examples
from ingestion.models import ApiCredential, DataPoint, RequestLog
from integrations.demo import salesmanago_demo_load
from integrations.models import Delivery, IntegrationMapping, SalesmanagoAccount
from integrations.salesmanago.sandbox import DEMO_API_SECRET, DEMO_V3_API_KEY
from integrations.services import account_deliver
from mappings.models import Customer, DataPointType, FieldMapping, GroupKey
from tests.harness.admin import action_names, admin_url, form_values, submit

ACCOUNT_SECRET = "sm-secret-Zq81vXk2"
ACCOUNT_V3_KEY = "sm-v3-key-Pw55mNa7"

# (admin url name, how to find an instance) for the onboarding objects.
MAPPING_PAGES = {
    "mappings_customer": lambda: Customer.objects.get(slug="demo"),
    "mappings_groupkey": lambda: GroupKey.objects.get(key="main_group"),
    "mappings_datapointtype": lambda: DataPointType.objects.get(name="person"),
    "mappings_fieldmapping": lambda: FieldMapping.objects.get(
        data_point_type__name="person", source_field="email"
    ),
    "integrations_integrationmapping": lambda: IntegrationMapping.objects.get(
        data_point_type__name="person"
    ),
}
ONBOARDING_PAGES = {
    **MAPPING_PAGES,
    "integrations_salesmanagoaccount": lambda: SalesmanagoAccount.objects.get(),
    "ingestion_apicredential": lambda: ApiCredential.objects.get(
        description="existing"
    ),
}
RECORD_PAGES = {
    "ingestion_requestlog": lambda: RequestLog.objects.first(),
    "ingestion_datapoint": lambda: DataPoint.objects.first(),
    "integrations_delivery": lambda: Delivery.objects.first(),
}


@pytest.fixture
def world(demo, api, sandbox):
    """The demo customer with its Salesmanago account, a key, one request, one data
    point and one delivery sent to the sandbox for real."""
    account = salesmanago_demo_load(demo)
    account.base_url = account.v3_base_url = sandbox.url
    account.save()
    demo.refresh_from_db()
    ApiCredential.objects.create(customer=demo, description="existing")
    assert api.post("/v2/profiles", examples.PROFILE, format="json").status_code == 200
    assert account_deliver(account_id=account.pk) == 1
    assert Delivery.objects.get().status == "sent"
    return demo


# setup_roles.


def test_setup_roles_creates_both_groups_with_their_permissions(db):
    out = StringIO()
    call_command("setup_roles", stdout=out)
    assert "Created group 'Onboarding staff'" in out.getvalue()
    for role in ROLES:
        group = Group.objects.get(name=role)
        granted = {
            f"{p.content_type.app_label}.{p.codename}"
            for p in group.permissions.select_related("content_type")
        }
        assert granted == role_codenames(role)
    support = role_codenames(SUPPORT)
    assert not any(
        p.split(".")[1].startswith(("add_", "change_", "delete_")) for p in support
    )
    assert "ingestion.apicredential" not in str(support)
    assert "integrations.change_salesmanagoaccount" in role_codenames(ONBOARDING)


def test_setup_roles_run_again_changes_nothing_and_undoes_hand_edits(db):
    call_command("setup_roles", stdout=StringIO())
    support = Group.objects.get(name=SUPPORT)
    before = set(support.permissions.values_list("pk", flat=True))
    support.permissions.add(Permission.objects.get(codename="change_datapointtype"))
    out = StringIO()
    call_command("setup_roles", stdout=out)
    call_command("setup_roles", stdout=StringIO())
    assert "Updated group 'Support (read-only)'" in out.getvalue()
    assert Group.objects.filter(name__in=ROLES).count() == 2
    assert set(support.permissions.values_list("pk", flat=True)) == before


# Onboarding staff.


def test_onboarding_staff_can_add_and_change_mappings_accounts_and_keys(world, as_role):
    client = as_role(ONBOARDING)
    for name, find in ONBOARDING_PAGES.items():
        assert client.get(admin_url(name, "add")).status_code == 200, name
        page = client.get(admin_url(name, "change", find()))
        assert page.status_code == 200, name
        assert 'name="_save"' in page.content.decode(), name


def test_onboarding_staff_change_a_type_through_the_admin(world, as_role):
    client = as_role(ONBOARDING)
    person = DataPointType.objects.get(name="person")
    url = admin_url("mappings_datapointtype", "change", person)
    response = submit(
        client, url, {"description": "People who bought"}, model_name="datapointtype"
    )
    assert response.status_code == 302, response.context["errors"]
    person.refresh_from_db()
    assert person.description == "People who bought"


def test_onboarding_staff_only_look_at_requests_deliveries_and_data_points(
    world, as_role
):
    client = as_role(ONBOARDING)
    for name, find in RECORD_PAGES.items():
        obj = find()
        assert client.get(admin_url(name, "changelist")).status_code == 200, name
        page = client.get(admin_url(name, "change", obj))
        assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
        assert client.get(admin_url(name, "add")).status_code == 403, name
        assert client.post(admin_url(name, "change", obj), {}).status_code == 403
        assert client.get(admin_url(name, "delete", obj)).status_code == 403, name


def test_onboarding_staff_cannot_retry_or_replay_deliveries(world, as_role):
    page = as_role(ONBOARDING).get(admin_url("integrations_delivery", "changelist"))
    assert page.status_code == 200
    assert not action_names(page.content.decode()) & {"retry_now", "replay"}


# Support (read-only).


def test_support_sees_requests_deliveries_data_points_and_mappings(world, as_role):
    client = as_role(SUPPORT)
    pages = [
        *RECORD_PAGES,
        *MAPPING_PAGES,
        "ingestion_identitycollision",
        "ingestion_secondaryidentifier",
    ]
    for name in pages:
        assert client.get(admin_url(name, "changelist")).status_code == 200, name
    request_id = str(RequestLog.objects.get().request_id)
    found = client.get(
        admin_url("ingestion_requestlog", "changelist"), {"q": request_id}
    )
    assert request_id in found.content.decode()


def test_support_sees_a_data_points_secondary_ids_on_its_page(world, as_role):
    point = DataPoint.objects.get()
    [secondary] = point.secondary_ids.all()
    page = as_role(SUPPORT).get(admin_url("ingestion_datapoint", "change", point))
    html = page.content.decode()
    assert page.status_code == 200
    assert secondary.value in html and "secondary_ids-group" in html


def test_support_gets_403_on_every_add_change_and_delete(world, as_role):
    client = as_role(SUPPORT)
    for name, find in {**MAPPING_PAGES, **RECORD_PAGES}.items():
        obj = find()
        assert client.get(admin_url(name, "add")).status_code == 403, name
        page = client.get(admin_url(name, "change", obj))
        assert 'name="_save"' not in page.content.decode(), name
        assert client.post(admin_url(name, "change", obj), {}).status_code == 403
        assert client.get(admin_url(name, "delete", obj)).status_code == 403, name


def test_support_cannot_save_a_mapping_even_with_a_complete_form(world, as_role):
    onboarding = as_role(ONBOARDING)
    person = DataPointType.objects.get(name="person")
    url = admin_url("mappings_datapointtype", "change", person)
    values = form_values(onboarding.get(url), "datapointtype")
    support = as_role(SUPPORT)
    response = support.post(url, {**values, "description": "changed", "_save": "Save"})
    assert response.status_code == 403
    person.refresh_from_db()
    assert person.description != "changed"


def test_support_has_no_action_that_changes_anything(world, as_role, admin_client):
    delivery_list = admin_url("integrations_delivery", "changelist")
    # The parser finds actions where there are some: a superuser may retry.
    assert {"retry_now", "replay"} <= action_names(
        admin_client.get(delivery_list).content.decode()
    )
    client = as_role(SUPPORT)
    pages = [*MAPPING_PAGES, *RECORD_PAGES, "ingestion_identitycollision"]
    for name in pages:
        page = client.get(admin_url(name, "changelist"))
        assert action_names(page.content.decode()) == set(), name
    Delivery.objects.update(status="dead", attempts=9)
    delivery = Delivery.objects.get()
    selected = {"_selected_action": [str(delivery.pk)], "index": "0"}
    client.post(delivery_list, {**selected, "action": "replay"})
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("dead", 9)


def test_support_cannot_reach_credentials_or_accounts(world, as_role):
    client = as_role(SUPPORT)
    for name in ("ingestion_apicredential", "integrations_salesmanagoaccount"):
        assert client.get(admin_url(name, "changelist")).status_code == 403, name
        assert client.get(admin_url(name, "add")).status_code == 403, name
    credential = ApiCredential.objects.get(description="existing")
    response = client.post(
        admin_url("ingestion_apicredential", "changelist"),
        {"_selected_action": [credential.pk], "action": "deactivate", "index": "0"},
    )
    assert response.status_code == 403
    credential.refresh_from_db()
    assert credential.active


# Secrets.


def test_a_credential_secret_is_shown_once_at_creation_and_never_again(world, as_role):
    client = as_role(ONBOARDING)
    created = client.post(
        admin_url("ingestion_apicredential", "add"),
        {"customer": world.pk, "environment": "production", "description": "crm"},
        follow=True,
    )
    credential = ApiCredential.objects.get(description="crm")
    secret = credential.secret_access_key
    assert secret in created.content.decode()
    pages = [
        admin_url("ingestion_apicredential", "change", credential),
        admin_url("ingestion_apicredential", "changelist"),
        admin_url("ingestion_apicredential", "history", credential),
        admin_url("mappings_customer", "change", world),
        admin_url("ingestion_requestlog", "changelist"),
    ]
    for url in pages:
        page = client.get(url)
        assert page.status_code == 200, url
        assert secret not in page.content.decode(), url


def test_account_secrets_are_write_only_for_onboarding_staff(world, as_role):
    client = as_role(ONBOARDING)
    staging = {
        "customer": world.pk,
        "group_key": world.group_keys.get().pk,
        "environment": "staging",
        "base_url": "https://app3.salesmanago.com",
        "v3_base_url": "https://api.salesmanago.com",
        "client_id": "stage-client",
        "api_secret": ACCOUNT_SECRET,
        "v3_api_key": ACCOUNT_V3_KEY,
        "owner_email": "owner@example.com",
        "catalog_id": "",
        "enabled": "on",
    }
    added = client.post(admin_url("integrations_salesmanagoaccount", "add"), staging)
    assert added.status_code == 302, added.context["errors"]
    account = SalesmanagoAccount.objects.get(client_id="stage-client")
    assert account.api_secret == ACCOUNT_SECRET
    change = admin_url("integrations_salesmanagoaccount", "change", account)
    for url in (
        change,
        admin_url("integrations_salesmanagoaccount", "changelist"),
        admin_url("integrations_salesmanagoaccount", "history", account),
    ):
        html = client.get(url).content.decode()
        assert ACCOUNT_SECRET not in html and ACCOUNT_V3_KEY not in html, url
    # Saving without typing the secrets again keeps them.
    response = submit(
        client, change, {"enabled": None}, model_name="salesmanagoaccount"
    )
    assert response.status_code == 302, response.context["errors"]
    account.refresh_from_db()
    assert (account.enabled, account.api_secret) == (False, ACCOUNT_SECRET)
    assert account.v3_api_key == ACCOUNT_V3_KEY


def test_a_user_who_may_only_view_accounts_sees_no_secret(
    world, client, django_user_model
):
    viewer = django_user_model.objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.add(
        Permission.objects.get(codename="view_salesmanagoaccount")
    )
    client.force_login(viewer)
    account = SalesmanagoAccount.objects.get()
    page = client.get(admin_url("integrations_salesmanagoaccount", "change", account))
    html = page.content.decode()
    assert page.status_code == 200 and account.client_id in html
    assert DEMO_API_SECRET not in html and DEMO_V3_API_KEY not in html


def test_a_user_who_may_only_view_keys_cannot_deactivate_them(
    world, client, django_user_model
):
    viewer = django_user_model.objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_apicredential"))
    client.force_login(viewer)
    url = admin_url("ingestion_apicredential", "changelist")
    assert "deactivate" not in action_names(client.get(url).content.decode())
    credential = ApiCredential.objects.get(description="existing")
    client.post(
        url, {"_selected_action": [credential.pk], "action": "deactivate", "index": "0"}
    )
    credential.refresh_from_db()
    assert credential.active


def test_delivery_and_data_point_pages_show_no_account_secret(world, as_role):
    delivery = Delivery.objects.get()
    assert delivery.request_excerpt  # what was sent is shown: it must be scrubbed
    for role in (ONBOARDING, SUPPORT):
        client = as_role(role)
        for url in (
            admin_url("integrations_delivery", "change", delivery),
            admin_url("integrations_delivery", "changelist"),
            admin_url("ingestion_datapoint", "change", delivery.data_point),
        ):
            html = client.get(url).content.decode()
            assert DEMO_API_SECRET not in html and DEMO_V3_API_KEY not in html, url
        client.logout()
