"""The files admin: staff upload a file from the customer's page through the API's own
service, follow its progress, download its rejected rows; the list shows every upload."""

import csv
import io
from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from datatalks.roles import SUPPORT
from ingestion.files import services
from ingestion.models import DataPoint, FileUpload
from mappings.models import DataPointType
from tests.harness.customers import make_customer
from tests.harness.files import csv_bytes, person_rows, process_here

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("files_dir")]


def upload_form(client, customer, body: bytes, name="people.csv", **fields):
    person = DataPointType.objects.get(customer=customer, name="person")
    data = {
        "customer": customer.pk,
        "environment": "production",
        "type": person.pk,
        "group_key": "",
        "file": SimpleUploadedFile(name, body, "text/csv"),
        **fields,
    }
    return client.post(
        reverse("admin:ingestion_fileupload_upload") + f"?customer={customer.pk}", data
    )


def test_staff_upload_from_the_customers_page_and_download_rejected_rows(
    admin_client, demo
):
    page = admin_client.get(reverse("admin:mappings_customer_change", args=[demo.pk]))
    link = reverse("admin:ingestion_fileupload_upload") + f"?customer={demo.pk}"
    assert f'href="{link}"' in page.content.decode()
    other = make_customer("other")
    form = admin_client.get(link).content.decode()
    assert "person" in form
    theirs = DataPointType.objects.get(customer=other).pk
    assert f'value="{theirs}"' not in form  # only this customer's types
    response = upload_form(
        admin_client, demo, csv_bytes(person_rows(6, bad=frozenset({2})))
    )
    upload = FileUpload.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "admin:ingestion_fileupload_change", args=[upload.pk]
    )
    assert (upload.status, upload.uploaded_by, upload.access_key_id) == (
        "queued",
        "admin",
        "",
    )
    process_here(upload.pk)
    assert DataPoint.objects.count() == 5
    detail = admin_client.get(response["Location"]).content.decode()
    assert 'id="file-status">done<' in detail
    assert 'id="file-accepted">5<' in detail
    errors = admin_client.get(
        reverse("admin:ingestion_fileupload_errors", args=[upload.pk])
    )
    rows = list(csv.reader(io.StringIO(b"".join(errors.streaming_content).decode())))
    assert rows == [
        ["row", "hardId", "messages"],
        [
            "4",
            "customer_id=3",
            'data.email: "not an email 2" is not a valid email address',
        ],
    ]


def test_the_upload_page_refuses_a_file_as_the_api_does(admin_client, demo):
    body = csv_bytes(person_rows(2), columns=["id", "first_name", "last_name"])
    response = upload_form(admin_client, demo, body)
    assert response.status_code == 200
    assert (
        "The header has no column customer_id: person&#x27;s Hard-ID is customer_id."
        in response.content.decode()
    )
    assert not FileUpload.objects.exists()


def test_the_progress_bar_follows_a_running_file(admin_client, demo, settings):
    settings.DATATALKS_FILE_CHUNK_ROWS = 100
    settings.DATATALKS_FILE_SLICE_SECONDS = 0
    upload_form(admin_client, demo, csv_bytes(person_rows(300)))
    upload = FileUpload.objects.get()
    progress = reverse("admin:ingestion_fileupload_progress", args=[upload.pk])
    page = admin_client.get(
        reverse("admin:ingestion_fileupload_change", args=[upload.pk])
    ).content.decode()
    assert '<progress id="file-progress" max="100" value="0"' in page
    assert progress in page  # the page polls it while the file runs
    seen = []
    while services.file_process(file_id=upload.pk):
        state = admin_client.get(progress).json()
        seen.append((state["status"], state["rowsAccepted"], state["progress"]))
    assert [s[:2] for s in seen] == [("processing", 100), ("processing", 200)]
    assert 0 < seen[0][2] < seen[1][2] < 100
    assert admin_client.get(progress).json()["status"] == "done"
    done = admin_client.get(
        reverse("admin:ingestion_fileupload_change", args=[upload.pk])
    ).content.decode()
    assert progress not in done  # no more polling


def test_the_file_list_shows_every_upload_with_status_and_counts(admin_client, demo):
    upload_form(admin_client, demo, csv_bytes(person_rows(3, bad=frozenset({0}))))
    process_here(FileUpload.objects.get().pk)
    upload_form(admin_client, demo, csv_bytes(person_rows(2)), name="later.csv")
    page = admin_client.get(reverse("admin:ingestion_fileupload_changelist"))
    text = page.content.decode()
    assert text.count('class="field-status"') == 2
    assert '<td class="field-status">Done</td>' in text
    assert '<td class="field-status">Queued</td>' in text
    assert '<td class="field-rows_accepted">2</td>' in text
    assert '<td class="field-rows_rejected">1</td>' in text


def test_support_sees_uploads_but_cannot_upload(client, django_user_model, demo):
    call_command("setup_roles", stdout=StringIO())
    user = django_user_model.objects.create_user("sam", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=SUPPORT))
    client.force_login(user)
    assert (
        client.get(reverse("admin:ingestion_fileupload_changelist")).status_code == 200
    )
    assert client.get(reverse("admin:ingestion_fileupload_upload")).status_code == 403
    response = upload_form(client, demo, csv_bytes(person_rows(1)))
    assert response.status_code == 403
    assert not FileUpload.objects.exists()
    page = client.get(reverse("admin:mappings_customer_change", args=[demo.pk]))
    assert "Upload a file" not in page.content.decode()
