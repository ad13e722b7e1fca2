"""Files end to end: uploaded over signed HTTP, processed by a real Celery worker over
a real Redis broker, delivered to the Salesmanago sandbox; a worker SIGKILLed mid-file
leaves nothing lost and nothing written twice."""

import pytest

from ingestion.models import DataPoint, FileUpload
from integrations.models import Delivery
from tests.harness.files import FileClient, csv_bytes, person_rows
from tests.harness.processes import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

# A worker quiet for this long lost the file: its beat sweeper queues it again.
FAST_SWEEP = {"DATATALKS_FILE_STUCK_SECONDS": "5", "DATATALKS_FILE_SWEEP_SECONDS": "1"}


@pytest.fixture
def files(live_server, api_key):
    return FileClient(live_server.url, *api_key)


def test_a_50_row_csv_with_3_bad_rows_reaches_salesmanago_47_times(
    account, sandbox, start_worker, files
):
    start_worker()
    body = csv_bytes(person_rows(50, bad=frozenset({4, 20, 49})))
    file_id = files.upload(body).json()["fileId"]
    state = files.wait_until_finished(file_id, 120)
    assert (state["status"], state["rowsSeen"]) == ("done", 50)
    assert (state["rowsAccepted"], state["rowsRejected"]) == (47, 3)
    errors = files.errors(file_id).json()["errors"]
    assert [(e["row"], e["hardId"]) for e in errors] == [
        (6, "customer_id=5"),
        (22, "customer_id=21"),
        (51, "customer_id=50"),
    ]
    assert errors[1]["messages"] == [
        'data.email: "not an email 20" is not a valid email address'
    ]
    wait_for(
        lambda: Delivery.objects.filter(status="sent").count() == 47, 120, "47 sends"
    )
    contacts = sandbox.state()["contacts"]
    emails = sorted(c["email"] for c in contacts)
    expected = sorted(
        f"person{i + 1}@example.com" for i in range(50) if i not in (4, 20, 49)
    )
    assert emails == expected  # each once
    assert sandbox.state()["received"]["contacts"] == 47


def test_the_same_file_twice_changes_nothing_and_sends_nothing_twice(
    account, sandbox, start_worker, files
):
    start_worker()
    body = csv_bytes(person_rows(20))
    first = files.upload(body).json()["fileId"]
    assert files.wait_until_finished(first)["rowsAccepted"] == 20
    wait_for(lambda: Delivery.objects.filter(status="sent").count() == 20, 60, "sends")
    second = files.upload(body).json()["fileId"]
    assert files.wait_until_finished(second)["rowsAccepted"] == 20
    assert set(DataPoint.objects.values_list("revision", flat=True)) == {1}
    assert Delivery.objects.count() == 20
    assert sandbox.state()["received"]["contacts"] == 20


def kill_mid_file(start_worker, files, rows: int) -> str:
    """Uploads ``rows`` rows, SIGKILLs the worker once chunks are committed and before
    the end, starts another; returns the fileId."""
    first = start_worker(**FAST_SWEEP)
    file_id = files.upload(csv_bytes(person_rows(rows))).json()["fileId"]
    wait_for(
        lambda: FileUpload.objects.get(pk=file_id).position > 2000,
        120,
        "progress",
        interval=0.05,
    )
    first.kill()
    at_kill = FileUpload.objects.get(pk=file_id)
    assert at_kill.status == "processing"
    assert at_kill.position < rows
    start_worker(**FAST_SWEEP)
    return file_id


def assert_every_row_stored_once(files, file_id: str, rows: int) -> None:
    state = files.wait_until_finished(file_id, 600)
    assert (state["status"], state["rowsAccepted"], state["rowsRejected"]) == (
        "done",
        rows,
        0,
    )
    assert DataPoint.objects.count() == rows
    # A row written twice would have revision 2.
    assert set(DataPoint.objects.values_list("revision", flat=True)) == {1}


def test_a_worker_killed_mid_file_resumes_after_the_last_chunk(start_worker, files):
    file_id = kill_mid_file(start_worker, files, 8_000)
    assert_every_row_stored_once(files, file_id, 8_000)


@pytest.mark.slow
def test_a_worker_killed_during_a_200000_row_file_stores_every_row_once(
    start_worker, files
):
    file_id = kill_mid_file(start_worker, files, 200_000)
    assert_every_row_stored_once(files, file_id, 200_000)
