"""API credentials: creation, encryption at rest, look-ups, commands and the admin."""

import io
import re
import subprocess
import threading
import uuid
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.urls import reverse

from datatalks.crypto import decrypt
from ingestion import credentials, examples
from ingestion.credentials import (
    credential_create,
    credential_deactivate,
    credential_for_access_key,
    credential_mark_used,
)
from ingestion.models import ApiCredential, RequestLog
from tests.harness.customers import make_customer
from tests.harness.signing import run_curl

KEY_ID = re.compile(r"DT[A-Z0-9]{18}")
SECRET = re.compile(r"[A-Za-z0-9+/]{40}")


def stored_secret(credential) -> str:
    """The secret column exactly as the database holds it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT secret_access_key FROM ingestion_apicredential WHERE id = %s",
            [credential.pk],
        )
        return cursor.fetchone()[0]


def test_credential_create_returns_the_secret_once_and_stores_it_encrypted(demo):
    credential, secret = credential_create(
        customer=demo, environment="staging", description="CRM"
    )
    assert KEY_ID.fullmatch(credential.access_key_id)
    assert SECRET.fullmatch(secret)
    assert (credential.environment, credential.active) == ("staging", True)
    raw = stored_secret(credential)
    assert secret not in raw
    assert decrypt(raw) == secret
    assert ApiCredential.objects.get(pk=credential.pk).secret_access_key == secret


def test_credential_create_refuses_an_unknown_environment(demo):
    with pytest.raises(ValueError, match="environment must be one of"):
        credential_create(customer=demo, environment="prod")


def test_a_customer_can_hold_two_active_keys_for_rotation(demo):
    first, _ = credential_create(customer=demo)
    second, _ = credential_create(customer=demo)
    for credential in (first, second):
        assert credential_for_access_key(credential.access_key_id) == credential


def test_credential_for_access_key_finds_it_in_one_query(
    demo, django_assert_num_queries
):
    credential, _ = credential_create(customer=demo)
    with django_assert_num_queries(1):
        found = credential_for_access_key(credential.access_key_id)
        assert found.customer.slug == "demo"  # loaded with the key


def test_credential_for_access_key_skips_inactive_keys_and_customers(demo):
    credential, _ = credential_create(customer=demo)
    ApiCredential.objects.filter(pk=credential.pk).update(active=False)
    assert credential_for_access_key(credential.access_key_id) is None
    other, _ = credential_create(customer=demo)
    demo.active = False
    demo.save()
    assert credential_for_access_key(other.access_key_id) is None


@pytest.mark.parametrize("key", ["", "AKIDEXAMPLE", "dt" + "a" * 18, "DT" + "A" * 19])
def test_credential_for_access_key_needs_no_query_for_impossible_ids(
    db, django_assert_num_queries, key
):
    with django_assert_num_queries(0):
        assert credential_for_access_key(key) is None


def last_used(credential):
    return ApiCredential.objects.get(pk=credential.pk).last_used_at


def test_last_used_is_written_at_most_once_a_minute(demo, django_assert_num_queries):
    credential, _ = credential_create(customer=demo)
    now = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    with django_assert_num_queries(1):
        credential_mark_used(credential=credential, now=now)
    with django_assert_num_queries(0):
        credential_mark_used(credential=credential, now=now + timedelta(seconds=59))
    assert last_used(credential) == now
    with django_assert_num_queries(1):
        credential_mark_used(credential=credential, now=now + timedelta(seconds=61))
    assert last_used(credential) == now + timedelta(seconds=61)


def test_last_used_update_is_conditional_across_concurrent_requests(demo):
    credential, _ = credential_create(customer=demo)
    earlier_copy = ApiCredential.objects.get(pk=credential.pk)  # loaded, never used
    now = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    credential_mark_used(credential=credential, now=now)
    credential_mark_used(credential=earlier_copy, now=now + timedelta(seconds=5))
    assert last_used(credential) == now


# The per-process cache, under gthread (several threads of a process look keys up).


def looked_up_in_another_thread(access_key_id: str, *, meanwhile=None):
    """The key as another thread of this process looks it up; ``meanwhile()`` runs
    after that thread has read the key's row and before it keeps what it read."""
    read, resume = threading.Event(), threading.Event()
    lookup = credentials._credential_lookup

    def slow_lookup(key):
        try:
            return lookup(key)
        finally:
            read.set()
            resume.wait(30)

    found = []

    def look_up():
        try:
            found.append(credentials.credential_for_access_key(access_key_id))
        finally:
            connection.close()

    with mock.patch.object(credentials, "_credential_lookup", slow_lookup):
        thread = threading.Thread(target=look_up)
        thread.start()
        assert read.wait(30)
        if meanwhile:
            meanwhile()
        resume.set()
        thread.join(30)
    return found[0]


@pytest.mark.django_db(transaction=True)
def test_a_key_deactivated_during_another_threads_look_up_is_refused_at_once(demo):
    credential, _ = credential_create(customer=demo)
    key = credential.access_key_id
    found = looked_up_in_another_thread(
        key, meanwhile=lambda: credential_deactivate(credential=credential)
    )
    assert found is not None  # it read the key before the change
    assert credential_for_access_key(key) is None  # but did not keep it


@pytest.mark.django_db(transaction=True)
def test_a_key_deactivated_in_a_transaction_is_refused_once_it_commits(demo):
    credential, _ = credential_create(customer=demo)
    key = credential.access_key_id
    with transaction.atomic():  # as the admin saves it
        credential.active = False
        credential.save()
        # another thread, not seeing the change yet, looks the key up
        assert looked_up_in_another_thread(key) is not None
    assert credential_for_access_key(key) is None


# Management commands.


def run(command, *args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(command, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def printed_pair(output: str) -> tuple[str, str]:
    key = re.search(r"^ACCESS_KEY_ID=(\S+)$", output, re.M).group(1)
    secret = re.search(r"^SECRET_ACCESS_KEY=(\S+)$", output, re.M).group(1)
    return key, secret


def test_create_api_key_prints_a_working_pair(demo):
    out, _ = run("create_api_key", "demo", "--description", "Shop")
    key, secret = printed_pair(out)
    credential = ApiCredential.objects.get(access_key_id=key)
    assert credential.secret_access_key == secret
    assert (credential.customer, credential.environment) == (demo, "production")
    assert credential.description == "Shop"


def test_create_api_key_makes_staging_keys(demo):
    key, _ = printed_pair(run("create_api_key", "demo", "--staging")[0])
    assert ApiCredential.objects.get(access_key_id=key).environment == "staging"


def test_create_api_key_names_an_unknown_customer(db):
    with pytest.raises(CommandError, match="No customer with slug 'nobody'"):
        run("create_api_key", "nobody")


def test_demo_credentials_creates_one_key_and_reuses_it(demo, settings):
    settings.DEBUG = True
    first = printed_pair(run("demo_credentials")[0])
    again = printed_pair(run("demo_credentials")[0])
    assert first == again
    credential = ApiCredential.objects.get(customer=demo)
    assert (credential.access_key_id, credential.secret_access_key) == first


def test_demo_credentials_runs_only_in_debug(demo, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="only in DEBUG"):
        run("demo_credentials")
    assert not ApiCredential.objects.exists()


def test_demo_credentials_needs_the_demo_customer(db, settings):
    settings.DEBUG = True
    with pytest.raises(CommandError, match="load_demo"):
        run("demo_credentials")


def test_demo_credentials_prints_a_curl_request_that_works(demo, settings, live_server):
    settings.DEBUG = True
    out, _ = run("demo_credentials")
    command = out.split("Try it (AWS Signature V4, signed by curl):\n", 1)[1].strip()
    assert command.startswith('curl --aws-sigv4 "aws:amz:eu-north-1:execute-api"')
    command = command.replace("http://127.0.0.1:8000", live_server.url)
    status, body = run_curl(command)
    assert status == 200, body
    assert body["success"] is True


# The admin.


def admin_url(name, *args):
    return reverse(f"admin:ingestion_{name}", args=args)


def create_in_admin(staff, customer, environment="production"):
    """Adds a key through the admin; returns it and the page shown after creation."""
    before = set(ApiCredential.objects.values_list("pk", flat=True))
    response = staff.post(
        admin_url("apicredential_add"),
        {"customer": customer.pk, "environment": environment, "description": "Shop"},
        follow=True,
    )
    assert response.status_code == 200
    [credential] = ApiCredential.objects.exclude(pk__in=before)
    return credential, response.content.decode()


def test_admin_shows_the_secret_once_after_creation(staff, demo):
    credential, page = create_in_admin(staff, demo)
    secret = credential.secret_access_key
    assert page.count(secret) == 1 and "It is not shown again" in page
    assert credential.description == "Shop"
    for url in (
        admin_url("apicredential_changelist"),
        admin_url("apicredential_change", credential.pk),
    ):
        html = staff.get(url).content.decode()
        assert credential.access_key_id in html
        assert secret not in html


def test_admin_list_shows_customer_environment_and_use(staff, demo):
    credential, secret = credential_create(customer=demo, environment="staging")
    credential_mark_used(credential=credential, now=datetime.now(UTC))
    html = staff.get(admin_url("apicredential_changelist") + "?environment=staging")
    html = html.content.decode()
    assert credential.access_key_id in html and "Demo Customer" in html
    assert '<td class="field-environment">Staging</td>' in html
    [used] = re.findall(r'class="field-last_used_at[^"]*">([^<]+)<', html)
    assert used.strip() not in ("", "-")
    assert secret not in html


def test_admin_deactivates_keys(staff, demo):
    credential, _ = credential_create(customer=demo)
    staff.post(
        admin_url("apicredential_changelist"),
        {"action": "deactivate", "_selected_action": [credential.pk]},
    )
    assert credential_for_access_key(credential.access_key_id) is None


def test_admin_keeps_a_keys_customer_and_environment(staff, demo):
    credential, _ = credential_create(customer=demo)
    other = make_customer("other")
    staff.post(
        admin_url("apicredential_change", credential.pk),
        {
            "customer": other.pk,
            "environment": "staging",
            "description": "x",
            "active": "on",
        },
    )
    credential.refresh_from_db()
    assert (credential.customer, credential.environment, credential.description) == (
        demo,
        "production",
        "x",
    )


def test_request_log_is_searchable_by_request_id(staff, demo):
    wanted = RequestLog.objects.create(
        request_id=uuid.uuid4(),
        customer=demo,
        access_key_id="DT" + "1" * 18,
        environment="production",
        method="POST",
        path="/v2/profiles",
        status_code=400,
        messages=["data.email: is not valid"],
        duration_ms=3.2,
    )
    RequestLog.objects.create(
        request_id=uuid.uuid4(),
        method="POST",
        path="/v2/events",
        status_code=403,
        messages=["Missing Authentication Token"],
        duration_ms=1.0,
    )
    url = admin_url("requestlog_changelist")
    html = staff.get(url, {"q": str(wanted.request_id)}).content.decode()
    assert "/v2/profiles" in html and "/v2/events" not in html
    assert staff.get(url, {"q": "not-a-uuid"}).status_code == 200
    page = staff.get(admin_url("requestlog_change", wanted.request_id))
    assert "data.email: is not valid" in page.content.decode()
    assert staff.get(admin_url("requestlog_add")).status_code == 403


def test_data_point_pages_show_ids_for_support(staff, api):
    datatalks_id = api.post("/v2/profiles", examples.PROFILE, format="json").json()[
        "datatalksId"
    ]
    for name in ("datapoint", "secondaryidentifier", "identitycollision"):
        assert staff.get(admin_url(f"{name}_changelist")).status_code == 200
    found = staff.get(
        admin_url("datapoint_changelist"), {"q": "juliana.crane@fake.com"}
    )
    assert datatalks_id in found.content.decode()
    page = staff.get(admin_url("datapoint_change", datatalks_id)).content.decode()
    assert "12345" in page and "juliana.crane@fake.com" in page


# No secret in plain text in the database.


def pg_dump() -> str:
    db = connection.settings_dict
    command = [
        "pg_dump",
        "-h",
        db["HOST"] or "127.0.0.1",
        "-U",
        db["USER"] or "postgres",
    ]
    if db["PORT"]:
        command += ["-p", str(db["PORT"])]
    env = {"PGPASSWORD": db["PASSWORD"]} if db["PASSWORD"] else None
    result = subprocess.run(
        [*command, db["NAME"]], capture_output=True, text=True, check=True, env=env
    )
    return result.stdout


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="pg_dump needs PostgreSQL"
)
def test_database_dump_holds_the_keys_but_no_secret(transactional_db, client):
    demo = make_customer("demo")
    by_service, secret = credential_create(customer=demo)
    key, command_secret = printed_pair(run("create_api_key", "demo", "--staging")[0])
    user = get_user_model().objects.create_superuser("staff", "s@example.com", "pw")
    client.force_login(user)
    by_admin, _ = create_in_admin(client, demo)
    dump = pg_dump()
    assert "COPY public.ingestion_apicredential" in dump
    for access_key_id in (by_service.access_key_id, key, by_admin.access_key_id):
        assert access_key_id in dump
    for plain in (secret, command_secret, by_admin.secret_access_key):
        assert plain not in dump


def test_the_new_secret_is_never_in_a_cookie(staff, demo):
    response = staff.post(
        admin_url("apicredential_add"),
        {"customer": demo.pk, "environment": "production", "description": "Shop"},
    )
    credential = ApiCredential.objects.get(description="Shop")
    secret = credential.secret_access_key
    assert response.status_code == 200  # rendered here, no redirect to a message
    assert response.content.decode().count(secret) == 1
    assert "no-store" in response["Cache-Control"]
    cookies = " ".join(morsel.value for morsel in response.cookies.values())
    assert secret not in cookies and "messages" not in response.cookies
    # Nothing left for the next page to show.
    assert (
        secret not in staff.get(admin_url("apicredential_changelist")).content.decode()
    )
