"""Processing a file in the worker's service: bad rows fail alone, bad files end
``failed`` with the reason (never a crash or a hang), chunks commit with their progress
so a second worker resumes where the first stopped, and the beat tasks."""

import datetime as dt
import io
import zipfile

import pytest
from django.utils import timezone

from ingestion.files import services
from ingestion.files.receiving import file_receive, files_storage
from ingestion.models import DataPoint, FileUpload, RejectedRow
from tests.harness.customers import caller_for
from tests.harness.files import (
    CSV_TYPE,
    XLSX_TYPE,
    csv_bytes,
    person_rows,
    process_here,
    xlsx_bytes,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("files_dir")]


@pytest.fixture
def accept(demo):
    """Receives and accepts a file as the upload endpoint does; returns the row."""

    def accept_file(body: bytes, content_type=CSV_TYPE, **options) -> FileUpload:
        received = file_receive(
            stream=io.BytesIO(body), content_type=content_type, length=len(body)
        )
        return services.file_accept(
            caller=caller_for(demo),
            category=options.get("category", "profile"),
            type_name=options.get("type_name", "person"),
            group_key=None,
            received=received,
        )

    return accept_file


def finished(upload: FileUpload) -> FileUpload:
    process_here(upload.pk)
    upload.refresh_from_db()
    return upload


def rejected(upload: FileUpload) -> list[tuple[int, list[str]]]:
    return [(r.row, r.messages) for r in RejectedRow.objects.filter(file=upload)]


def test_a_row_with_more_cells_than_headers_fails_alone(accept):
    body = csv_bytes(person_rows(3)) + b"4,A,B,a@example.com,Yes,surplus\r\n5,C,D,,\r\n"
    upload = finished(accept(body))
    assert (upload.status, upload.rows_accepted, upload.rows_rejected) == ("done", 4, 1)
    assert rejected(upload) == [
        (5, ["The row has 6 cells but the header names 5 columns"])
    ]


def test_invalid_utf8_past_the_head_fails_its_row_alone(accept):
    rows = person_rows(2000)
    body = (
        csv_bytes(rows)
        + b"99999,J\xf6rg,Lee,,\r\n"
        + csv_bytes(person_rows(2, start=5000)).split(b"\r\n", 1)[1]
    )
    assert len(body) > 64 * 1024  # past what the upload could check
    upload = finished(accept(body))
    assert (upload.status, upload.rows_accepted, upload.rows_rejected) == (
        "done",
        2002,
        1,
    )
    assert rejected(upload) == [
        (2002, ["The row is not valid UTF-8 text; save the file as UTF-8"])
    ]


def test_a_json_line_longer_than_a_request_body_fails_alone(accept, settings):
    settings.DATATALKS_MAX_BODY_BYTES = 1024
    lines = [
        b'{"customer_id": 1, "first_name": "A", "last_name": "B"}',
        b'{"customer_id": 2, "first_name": "' + b"x" * 5000 + b'", "last_name": "B"}',
        b'{"customer_id": 3, "first_name": "C", "last_name": "D"}',
    ]
    upload = finished(accept(b"\n".join(lines), content_type="application/x-ndjson"))
    assert (upload.rows_accepted, upload.rows_rejected) == (2, 1)
    [(row, [message])] = rejected(upload)
    assert row == 2
    assert message.startswith("is longer than 1,024 characters")


def zip_with(base: bytes, extra: dict[str, bytes]) -> bytes:
    """The workbook ``base`` with members added or replaced."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(base)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for item in source.infolist():
            if item.filename not in extra:
                target.writestr(item, source.read(item.filename))
        for name, data in extra.items():
            target.writestr(name, data)
    return out.getvalue()


def sheet_xml(rows: str, dimension: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns='
        '"http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"{dimension}<sheetData>{rows}</sheetData></worksheet>"
    ).encode()


HEADER_ROW = (
    '<row r="1"><c r="A1" t="inlineStr"><is><t>customer_id</t></is></c>'
    '<c r="B1" t="inlineStr"><is><t>first_name</t></is></c>'
    '<c r="C1" t="inlineStr"><is><t>last_name</t></is></c></row>'
)


def data_row(number: int, customer_id: int) -> str:
    return (
        f'<row r="{number}"><c r="A{number}"><v>{customer_id}</v></c>'
        f'<c r="B{number}" t="inlineStr"><is><t>F</t></is></c>'
        f'<c r="C{number}" t="inlineStr"><is><t>L</t></is></c></row>'
    )


def test_a_zip_bomb_workbook_fails_without_being_unpacked(accept):
    bomb = zip_with(
        xlsx_bytes(person_rows(1)), {"xl/media/padding.bin": b"\0" * (40 * 1024**2)}
    )
    assert len(bomb) < 200 * 1024
    upload = finished(accept(bomb, content_type=XLSX_TYPE))
    assert upload.status == "failed"
    assert "refused as a ZIP bomb" in upload.failure
    assert not DataPoint.objects.exists()


def test_a_declared_absurd_dimension_is_not_trusted(accept):
    sheet = sheet_xml(
        HEADER_ROW + data_row(2, 7), dimension='<dimension ref="A1:XFD1048576"/>'
    )
    workbook = zip_with(xlsx_bytes([]), {"xl/worksheets/sheet1.xml": sheet})
    upload = finished(accept(workbook, content_type=XLSX_TYPE))
    assert (upload.status, upload.rows_accepted) == ("done", 1)


def test_a_row_number_past_excels_last_row_fails_the_file(accept):
    sheet = sheet_xml(HEADER_ROW + data_row(2, 7) + data_row(5_000_000, 8))
    workbook = zip_with(xlsx_bytes([]), {"xl/worksheets/sheet1.xml": sheet})
    upload = finished(accept(workbook, content_type=XLSX_TYPE))
    assert upload.status == "failed"
    assert upload.failure == "The sheet has rows past row 1,048,576, Excel's last row."


@pytest.mark.parametrize(
    "body,failure",
    [
        (
            xlsx_bytes(person_rows(2), columns=["id", "first_name"]),
            "The header has no column customer_id: person's Hard-ID is customer_id.",
        ),
        (xlsx_bytes([], columns=[]), "The first sheet of the workbook is empty."),
        (
            zip_with(b"PK\x05\x06" + b"\0" * 18, {"hello.txt": b"hi"}),
            "The file is not a readable XLSX workbook.",
        ),
        (
            b"PK\x03\x04 not really a zip at all",
            "The file is not a readable XLSX workbook.",
        ),
    ],
)
def test_workbooks_that_cannot_be_read_fail_with_the_reason(accept, body, failure):
    upload = finished(accept(body, content_type="application/octet-stream"))
    assert (upload.status, upload.failure) == ("failed", failure)
    assert upload.finished_at is not None


def test_workbook_dates_are_read_as_the_fields_format_says(accept, demo):
    rows = [[1, "A", "B", dt.datetime(1990, 5, 17), 1.25]]
    body = xlsx_bytes(
        rows, columns=["customer_id", "first_name", "last_name", "birth_date", "age"]
    )
    upload = finished(accept(body, content_type=XLSX_TYPE))
    assert rejected(upload) == [(2, ["data.age: 1.25 is not an integer"])]
    body = xlsx_bytes(
        [[1, "A", "B", dt.datetime(1990, 5, 17), 41]],
        columns=["customer_id", "first_name", "last_name", "birth_date", "age"],
    )
    finished(accept(body, content_type=XLSX_TYPE))
    stored = DataPoint.objects.get(hard_id="1").data
    assert (stored["birth_date"], stored["age"]) == ("1990-05-17", 41)


def test_a_file_resumes_after_the_last_committed_chunk(accept, settings):
    settings.DATATALKS_FILE_CHUNK_ROWS = 100
    settings.DATATALKS_FILE_SLICE_SECONDS = 0  # one chunk per run, as if killed
    upload = accept(csv_bytes(person_rows(250, bad=frozenset({10, 150}))))
    assert services.file_process(file_id=upload.pk) is True
    upload.refresh_from_db()
    assert (upload.status, upload.position, upload.rows_accepted) == (
        "processing",
        101,  # rows 2..101: the header is row 1
        99,
    )
    assert DataPoint.objects.count() == 99
    assert 0 < upload.progress < 1
    runs = 1
    while services.file_process(file_id=upload.pk):
        runs += 1
    upload.refresh_from_db()
    assert runs == 2  # the last run ends the file
    assert (upload.status, upload.rows_accepted, upload.rows_rejected) == (
        "done",
        248,
        2,
    )
    assert upload.progress == 1.0
    assert DataPoint.objects.count() == 248
    assert [r for r, _ in rejected(upload)] == [12, 152]


def test_a_file_held_by_a_live_worker_is_not_taken(accept, settings):
    upload = accept(csv_bytes(person_rows(5)))
    assert services._claim(upload.pk) is not None
    assert services.file_process(file_id=upload.pk) is False  # held: nothing done
    assert not DataPoint.objects.exists()
    FileUpload.objects.filter(pk=upload.pk).update(
        heartbeat_at=timezone.now() - dt.timedelta(seconds=301)
    )
    assert services.files_sweep() == [upload.pk]
    process_here(upload.pk)  # the worker went quiet: taken over
    assert DataPoint.objects.count() == 5


def test_the_sweeper_queues_files_never_picked_up(accept, settings):
    upload = accept(csv_bytes(person_rows(1)))
    assert services.files_sweep() == []
    FileUpload.objects.filter(pk=upload.pk).update(
        created_at=timezone.now() - dt.timedelta(seconds=301)
    )
    assert services.files_sweep() == [upload.pk]
    process_here(upload.pk)
    assert services.files_sweep() == []


def test_files_past_retention_are_deleted_with_their_rejected_rows(accept, settings):
    settings.DATATALKS_FILE_RETENTION_DAYS = 7
    old = finished(accept(csv_bytes(person_rows(3, bad=frozenset({0})))))
    recent = finished(accept(csv_bytes(person_rows(2, start=10))))
    storage = files_storage()
    storage.save("uploads/2000-01-01/orphan", io.BytesIO(b"left over"))
    FileUpload.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - dt.timedelta(days=8)
    )
    assert services.files_expire() == 2
    old.refresh_from_db()
    assert old.deleted_at is not None
    assert (old.status, old.rows_accepted, old.rows_rejected) == ("done", 2, 1)
    assert not RejectedRow.objects.filter(file=old).exists()
    assert not storage.exists(old.storage_name)
    assert not storage.exists("uploads/2000-01-01/orphan")
    assert storage.exists(recent.storage_name)
    assert services.files_expire() == 0


def _worker_dies(upload: FileUpload, monkeypatch) -> None:
    """One run of a worker that dies inside the chunk (a crash, a kill, a hard time
    limit): the claim stays behind, and the file goes quiet until it is stale."""

    def crash(**_):
        raise MemoryError("the worker died here")

    with monkeypatch.context() as patched:
        patched.setattr(services, "chunk_ingest", crash)
        with pytest.raises(MemoryError):
            services.file_process(file_id=upload.pk)
    FileUpload.objects.filter(pk=upload.pk).update(
        heartbeat_at=timezone.now() - dt.timedelta(seconds=301)
    )


def test_a_file_that_keeps_killing_its_worker_fails_instead_of_looping(
    accept, settings, monkeypatch
):
    settings.DATATALKS_FILE_MAX_TAKEOVERS = 3
    settings.DATATALKS_FILE_CHUNK_ROWS = 10
    settings.DATATALKS_FILE_SLICE_SECONDS = 0  # one chunk per run
    upload = accept(csv_bytes(person_rows(30)))
    assert services.file_process(file_id=upload.pk) is True  # rows 2..11 stored
    for _ in range(4):  # the first death and three takeovers
        _worker_dies(upload, monkeypatch)
    assert services.files_sweep() == [upload.pk]
    assert services.file_process(file_id=upload.pk) is False
    upload.refresh_from_db()
    assert (upload.status, upload.takeovers, upload.position) == ("failed", 4, 11)
    assert upload.failure.startswith("Processing stopped 4 times in a row after row 11")
    assert "rows up to 11 are processed" in upload.failure
    assert DataPoint.objects.count() == 10
    assert services.files_sweep() == []  # never queued again


def test_a_stored_chunk_forgives_earlier_takeovers(accept, settings, monkeypatch):
    settings.DATATALKS_FILE_MAX_TAKEOVERS = 1
    settings.DATATALKS_FILE_CHUNK_ROWS = 10
    settings.DATATALKS_FILE_SLICE_SECONDS = 0
    upload = accept(csv_bytes(person_rows(30)))
    _worker_dies(upload, monkeypatch)
    assert services.file_process(file_id=upload.pk) is True  # taken over once: fine
    upload.refresh_from_db()
    assert (upload.takeovers, upload.position) == (0, 11)
    _worker_dies(upload, monkeypatch)
    process_here(upload.pk)
    upload.refresh_from_db()
    assert (upload.status, upload.rows_accepted) == ("done", 30)
    assert DataPoint.objects.count() == 30
