"""POST /v3/files/...: the body streamed to storage while hashed, refusals that name
the problem at upload, and GET of a file's state and rejected rows, over signed HTTP."""

import hashlib

import pytest
import requests
from django.conf import settings as django_settings

from ingestion.credentials import credential_create
from ingestion.files.receiving import files_storage
from ingestion.models import DataPoint, FileUpload
from tests.harness.customers import make_customer
from tests.harness.files import (
    CSV_TYPE,
    XLSX_TYPE,
    FileClient,
    csv_bytes,
    person_rows,
    process_here,
    xlsx_bytes,
)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("files_dir"),
]


@pytest.fixture
def files(live_server, api_key):
    return FileClient(live_server.url, *api_key)


def stored_names() -> set[str]:
    storage = files_storage()
    try:
        days = storage.listdir("uploads")[0]
    except FileNotFoundError:
        return set()
    return {
        f"uploads/{day}/{name}"
        for day in days
        for name in storage.listdir(f"uploads/{day}")[1]
    }


def test_a_csv_upload_is_queued_then_processed_with_its_rejected_rows(files):
    body = csv_bytes(person_rows(10, bad=frozenset({3, 7})))
    response = files.upload(body)
    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer["success"] is True
    assert answer["status"] == "queued"
    assert answer["requestId"]
    file_id = answer["fileId"]
    process_here(file_id)
    state = files.status(file_id).json()
    assert state["status"] == "done"
    assert (state["rowsSeen"], state["rowsAccepted"], state["rowsRejected"]) == (
        10,
        8,
        2,
    )
    assert state["startedAt"] and state["finishedAt"]
    errors = files.errors(file_id).json()["errors"]
    assert [e["row"] for e in errors] == [5, 9]  # header is row 1
    assert errors[0]["hardId"] == "customer_id=4"
    assert errors[0]["messages"] == [
        'data.email: "not an email 3" is not a valid email address'
    ]
    assert DataPoint.objects.count() == 8


def test_jsonl_and_xlsx_files_are_read_like_csv(files):
    lines = b"\n".join(
        [
            b'{"customer_id": 1, "first_name": "A", "last_name": "B", "age": "41"}',
            b"",
            b'{"type": "person", "data": {"customer_id": 2, "first_name": "C",'
            b' "last_name": "D", "is_member": "Yes"}}',
            b'{"customer_id": "x", "first_name": "E", "last_name": "F"}',
        ]
    )
    jsonl = files.upload(lines, content_type="application/x-ndjson").json()["fileId"]
    workbook = xlsx_bytes(
        [[11, "G", "H", "g@example.com", "No"], [12, "I"], [None, "J", "K"]]
    )
    xlsx = files.upload(workbook, content_type=XLSX_TYPE).json()["fileId"]
    for file_id in (jsonl, xlsx):
        process_here(file_id)
    assert files.status(jsonl).json()["rowsAccepted"] == 2
    [bad_line] = files.errors(jsonl).json()["errors"]
    assert bad_line["row"] == 4  # the line number, blank lines counted
    assert bad_line["messages"] == ['data.customer_id: "x" is not an integer']
    stored = DataPoint.objects.get(hard_id="1")
    assert stored.data["age"] == 41  # text, as the mapping reads it
    state = files.status(xlsx).json()
    assert (state["format"], state["rowsAccepted"], state["rowsRejected"]) == (
        "xlsx",
        2,
        1,
    )
    # Empty cells are null: a required field may be null, a Hard-ID may not.
    assert DataPoint.objects.get(hard_id="12").data["last_name"] is None
    assert files.errors(xlsx).json()["errors"] == [
        {
            "row": 4,
            "hardId": None,
            "messages": ["data.customer_id: is part of the Hard-ID and cannot be null"],
        }
    ]


def test_semicolons_a_bom_and_empty_cells(files):
    body = csv_bytes([[5, "Ann", "Lee", "", ""]], delimiter=";", bom=True)
    file_id = files.upload(body).json()["fileId"]
    process_here(file_id)
    assert files.status(file_id).json()["rowsAccepted"] == 1
    stored = DataPoint.objects.get(hard_id="5")
    # An empty cell is null, not an empty string (which an email would refuse).
    assert stored.data["email"] is None
    assert stored.data["first_name"] == "Ann"


def test_errors_as_csv_name_rows_and_problems(files):
    file_id = files.upload(csv_bytes(person_rows(4, bad=frozenset({1})))).json()[
        "fileId"
    ]
    process_here(file_id)
    response = files.errors(file_id, format="csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert response.text.splitlines() == [
        "row,hardId,messages",
        '3,customer_id=2,"data.email: ""not an email 1"" is not a valid email address"',
    ]


@pytest.mark.parametrize(
    "params,message",
    [
        (
            {"type": "nobody"},
            'type: "nobody" is not an active data point type of yours',
        ),
        (
            {"type": "purchase_ev"},
            'type: "purchase_ev" is an event type; send it to the events endpoint',
        ),
        (
            {"type": "person", "groupKey": "nope"},
            'groupKey: "nope" is not one of your group keys',
        ),
    ],
)
def test_an_unknown_type_or_group_key_is_400_and_nothing_is_kept(
    files, params, message
):
    response = files.upload(csv_bytes(person_rows(2)), **params)
    assert response.status_code == 400
    assert response.json()["messages"] == [message]
    assert not FileUpload.objects.exists()
    assert stored_names() == set()


@pytest.mark.parametrize(
    "body,content_type,status,message",
    [
        (
            csv_bytes(person_rows(2), columns=["id", "first_name", "last_name"]),
            CSV_TYPE,
            400,
            "The header has no column customer_id: person's Hard-ID is customer_id.",
        ),
        (
            xlsx_bytes(person_rows(2)),
            CSV_TYPE,
            415,
            "The body was sent as text/csv (CSV) but it is an XLSX workbook: send it "
            "with its own Content-Type.",
        ),
        (
            csv_bytes(person_rows(2)),
            XLSX_TYPE,
            415,
            f"The body was sent as {XLSX_TYPE} (an XLSX workbook) but it is CSV: send "
            "it with its own Content-Type.",
        ),
        (
            b"%PDF-1.7 ...",
            "application/octet-stream",
            415,
            "The file is a PDF document, not CSV, JSON lines or an XLSX workbook.",
        ),
        (
            b"customer_id,first_name\n1,J\xf6rg\n",
            CSV_TYPE,
            400,
            "The file is not UTF-8 text: byte 26 (0xF6) cannot be decoded. Save it as "
            "UTF-8 (Excel: CSV UTF-8) and send it again.",
        ),
        (b"\n \n", CSV_TYPE, 400, "The file is empty."),
        (
            b"customer_id,first_name\r\n\r\n",
            CSV_TYPE,
            400,
            "The file has a header row but no rows under it.",
        ),
        (
            b"[1, 2]\n",
            "application/x-ndjson",
            400,
            "Line 1 is not a JSON object: each line must be one.",
        ),
        (
            b"a,b\n",
            "image/png",
            415,
            "Content-Type 'image/png' is not a file format this endpoint reads: send "
            "text/csv, application/x-ndjson (JSON lines) or "
            f"{XLSX_TYPE} (or application/octet-stream to have it told from its bytes).",
        ),
    ],
)
def test_bad_files_known_at_upload_get_a_clear_answer(
    files, body, content_type, status, message
):
    response = files.upload(body, content_type=content_type)
    assert response.status_code == status, response.text
    assert response.json()["messages"] == [message]
    assert stored_names() == set()


def test_an_empty_body_is_400_before_it_is_read(files):
    response = files.upload(b"")
    assert response.status_code == 400
    assert response.json()["messages"] == ["The file is empty."]


def test_a_file_over_the_limit_is_413_before_it_is_read(files, settings):
    settings.DATATALKS_FILE_MAX_BYTES = 2048
    response = files.upload(csv_bytes(person_rows(100)))
    assert response.status_code == 413
    [message] = response.json()["messages"]
    assert message.endswith("bytes; the limit is 2048.")
    assert stored_names() == set()


def test_a_body_without_content_length_is_411(live_server, sign_post):
    url = live_server.url + "/v3/files/profiles?type=person"
    body = csv_bytes(person_rows(3))
    headers = sign_post(url, body, {"Content-Type": CSV_TYPE})
    response = requests.post(
        url, data=iter([body]), headers=headers, timeout=30
    )  # a generator body is sent chunked
    assert response.status_code == 411
    assert "Content-Length" in response.json()["messages"][0]
    assert stored_names() == set()


def test_a_body_that_is_not_the_signed_one_is_403_and_deleted(live_server, sign_post):
    url = live_server.url + "/v3/files/profiles?type=person"
    signed = csv_bytes(person_rows(3))
    sent = signed.replace(b"First0", b"Frist0")
    headers = sign_post(url, signed, {"Content-Type": CSV_TYPE})
    response = requests.post(url, data=sent, headers=headers, timeout=30)
    assert response.status_code == 403
    assert response.json()["messages"][0].startswith(
        "The request signature we calculated does not match"
    )
    assert stored_names() == set()
    assert not FileUpload.objects.exists()


def test_unsigned_payload_is_refused(live_server, sign_post):
    url = live_server.url + "/v3/files/profiles?type=person"
    body = csv_bytes(person_rows(3))
    headers = sign_post(
        url,
        body,
        {"Content-Type": CSV_TYPE, "X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"},
    )
    response = requests.post(url, data=body, headers=headers, timeout=30)
    assert response.status_code == 403
    assert "x-amz-content-sha256" in response.json()["messages"][0]
    assert stored_names() == set()


def test_requests_aws4auth_signs_an_upload_too(live_server, api_key):
    from requests_aws4auth import AWS4Auth

    auth = AWS4Auth(
        api_key[0],
        api_key[1],
        django_settings.DATATALKS_SIGV4_REGION,
        django_settings.DATATALKS_SIGV4_SERVICE,
    )
    response = requests.post(
        live_server.url + "/v3/files/profiles?type=person",
        data=csv_bytes(person_rows(3)),
        headers={"Content-Type": CSV_TYPE},
        auth=auth,
        timeout=30,
    )
    assert response.status_code == 202, response.text


def test_another_customers_file_is_answered_like_an_unknown_one(files, live_server):
    file_id = files.upload(csv_bytes(person_rows(2))).json()["fileId"]
    other = make_customer("other")
    credential, secret = credential_create(customer=other)
    stranger = FileClient(live_server.url, credential.access_key_id, secret)
    unknown = "0b8e3f52-6c1d-4b7a-9e2f-5d4c3b2a1f09"
    for path in ("", "/errors"):
        theirs = stranger.session.get(f"{live_server.url}/v3/files/{file_id}{path}")
        none = stranger.session.get(f"{live_server.url}/v3/files/{unknown}{path}")
        assert theirs.status_code == none.status_code == 404
        assert theirs.json()["messages"] == [
            f"fileId: {file_id} is not a file of yours."
        ]
        assert none.json()["messages"] == [f"fileId: {unknown} is not a file of yours."]
    assert files.status(file_id).status_code == 200


def test_a_throttled_upload_is_429_and_not_kept(files, demo):
    demo.rate_limit_per_minute = 1
    demo.save()
    assert files.upload(csv_bytes(person_rows(2))).status_code == 202
    response = files.upload(csv_bytes(person_rows(2, start=10)))
    assert response.status_code == 429
    assert response.headers["Retry-After"]
    assert len(stored_names()) == 1
    assert FileUpload.objects.count() == 1


def test_a_file_larger_than_every_json_body_limit_is_streamed(files, settings):
    body = csv_bytes(person_rows(200_000))
    assert (
        len(body) > 2 * settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    )  # request.body would refuse it
    response = files.upload(body)
    assert response.status_code == 202, response.text
    [name] = stored_names()
    with files_storage().open(name, "rb") as stored:
        assert stored.read() == body
    upload = FileUpload.objects.get()
    assert (upload.size, upload.sha256) == (len(body), hashlib.sha256(body).hexdigest())
