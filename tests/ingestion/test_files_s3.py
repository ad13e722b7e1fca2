"""Files kept in S3-compatible object storage (django-storages), against moto's S3
server on a free loopback port: the web process stores the upload, a Celery worker in
another process reads it from the bucket, retention deletes it there."""

import boto3
import pytest
from moto.server import ThreadedMotoServer

from ingestion.files import services
from ingestion.files.receiving import files_storage
from ingestion.models import DataPoint
from tests.harness.files import FileClient, csv_bytes, person_rows
from tests.harness.processes import free_port

pytestmark = pytest.mark.django_db(transaction=True)

BUCKET = "datatalks-files"
REGION = "eu-north-1"


@pytest.fixture
def s3(settings):
    """moto's S3 server with an empty bucket; this process's files storage uses it."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    env = {
        "DATATALKS_FILES_S3_BUCKET": BUCKET,
        "DATATALKS_FILES_S3_ENDPOINT_URL": endpoint,
        "DATATALKS_FILES_S3_REGION": REGION,
        "DATATALKS_FILES_S3_ACCESS_KEY_ID": "moto-test-key",
        "DATATALKS_FILES_S3_SECRET_ACCESS_KEY": "moto-test-secret",
    }
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="moto-test-key",
        aws_secret_access_key="moto-test-secret",
    )
    client.create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    settings.STORAGES = {
        **settings.STORAGES,
        "files": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "location": "files",
                "endpoint_url": endpoint,
                "region_name": REGION,
                "access_key": "moto-test-key",
                "secret_key": "moto-test-secret",
                "file_overwrite": True,
                "max_memory_size": 1024 * 1024,
            },
        },
    }
    yield client, env
    server.stop()


def keys(client) -> list[str]:
    listed = client.list_objects_v2(Bucket=BUCKET)
    return [item["Key"] for item in listed.get("Contents", [])]


def test_an_upload_in_s3_is_processed_by_a_worker_elsewhere(
    s3, live_server, api_key, start_worker, settings, tmp_path
):
    client, env = s3
    # The worker shares nothing with this process but the bucket and the database.
    start_worker(DATATALKS_FILES_DIR=str(tmp_path / "not-shared"), **env)
    files = FileClient(live_server.url, *api_key)
    body = csv_bytes(person_rows(3000, bad=frozenset({7})))
    file_id = files.upload(body).json()["fileId"]
    [key] = keys(client)
    assert key.startswith("files/uploads/")
    stored = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert stored == body
    state = files.wait_until_finished(file_id, 180)
    assert (state["status"], state["rowsAccepted"], state["rowsRejected"]) == (
        "done",
        2999,
        1,
    )
    assert DataPoint.objects.count() == 2999
    assert not (tmp_path / "not-shared").exists()
    settings.DATATALKS_FILE_RETENTION_DAYS = 1
    import datetime as dt

    from django.utils import timezone

    assert services.files_expire(now=timezone.now() + dt.timedelta(days=2)) >= 1
    assert keys(client) == []
    assert not files_storage().exists(key.removeprefix("files/"))
