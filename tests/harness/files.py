"""Files for the file-upload tests, and a client that sends them as customers do:
the body is the file, signed with botocore's SigV4Auth, over real HTTP."""

import csv
import io
import time

import requests

from ingestion.files import services

from .signing import signed_session

PERSON_COLUMNS = ["customer_id", "first_name", "last_name", "email", "is_member"]
CSV_TYPE = "text/csv"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def person_rows(count: int, *, start: int = 1, bad: frozenset = frozenset()) -> list:
    """``count`` person rows; the indexes in ``bad`` have an email that is refused."""
    return [
        [
            start + i,
            f"First{i}",
            f"Last{i}",
            f"not an email {i}" if i in bad else f"person{start + i}@example.com",
            "Yes" if i % 2 else "No",
        ]
        for i in range(count)
    ]


def csv_bytes(rows, *, columns=PERSON_COLUMNS, delimiter=",", bom=False) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return (b"\xef\xbb\xbf" if bom else b"") + buffer.getvalue().encode()


def xlsx_bytes(rows, *, columns=PERSON_COLUMNS) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(columns)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


class FileClient:
    """Uploads and asks about files at ``base_url``, signed for one key."""

    def __init__(self, base_url: str, key: str, secret: str):
        self.base_url = base_url
        self.session = signed_session(key, secret)

    def upload(
        self, body: bytes, *, path="profiles", content_type=CSV_TYPE, **params
    ) -> requests.Response:
        params.setdefault("type", "person")
        return self.session.post(
            f"{self.base_url}/v3/files/{path}",
            params=params,
            data=body,
            headers={"Content-Type": content_type},
            timeout=120,
        )

    def status(self, file_id: str) -> requests.Response:
        return self.session.get(f"{self.base_url}/v3/files/{file_id}", timeout=30)

    def errors(self, file_id: str, **params) -> requests.Response:
        return self.session.get(
            f"{self.base_url}/v3/files/{file_id}/errors", params=params, timeout=60
        )

    def wait_until_finished(self, file_id: str, timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            body = self.status(file_id).json()
            if body["status"] in ("done", "failed"):
                return body
            time.sleep(0.2)
        raise AssertionError(f"file {file_id} not finished after {timeout} s: {body}")


def process_here(file_id: str) -> None:
    """Runs the worker's service in this process until the file is finished."""
    while services.file_process(file_id=file_id):
        pass
