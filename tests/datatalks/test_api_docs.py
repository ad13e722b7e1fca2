"""The OpenAPI document: it validates, documents every endpoint, and is served."""

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import yaml
from django.core.management import call_command

from tests.harness import processes
from tests.harness.faults import server_env, shared_test_database_url

CATEGORIES = ("profiles", "events", "inventory")
ENDPOINTS = [f"/{v}/{n}" for v in ("v2", "v3") for n in CATEGORIES] + [
    f"/v3/{n}/batch" for n in CATEGORIES
]
ENDPOINTS.append("/v3/schema")  # the caller's own document (ingestion/schema_views.py)
# Files (ingestion/files/views.py, docs/files.md).
ENDPOINTS += [f"/v3/files/{n}" for n in CATEGORIES]
ENDPOINTS += ["/v3/files/{file_id}", "/v3/files/{file_id}/errors"]
# Operations (datatalks/ops.py, docs/operations.md).
ENDPOINTS += ["/healthz", "/readyz", "/metrics"]
# A person's data on request (ingestion/privacy/views.py, docs/privacy.md).
ENDPOINTS.append("/v3/profiles/{datatalksId}")


def test_export_and_erase_are_documented(capsys):
    call_command("spectacular")
    schema = yaml.safe_load(capsys.readouterr().out)
    operations = schema["paths"]["/v3/profiles/{datatalksId}"]
    assert {"get", "delete"} <= set(operations)
    assert {"200", "400", "403", "404"} <= set(operations["delete"]["responses"])
    names = [p["name"] for p in operations["delete"]["parameters"]]
    assert "suppress" in names


def test_schema_validates_without_warnings(capsys):
    call_command("spectacular", "--validate", "--fail-on-warn")
    schema = yaml.safe_load(capsys.readouterr().out)
    assert sorted(schema["paths"]) == sorted(ENDPOINTS)


def test_schema_carries_the_reference_examples(capsys):
    call_command("spectacular")
    schema = yaml.safe_load(capsys.readouterr().out)
    post = schema["paths"]["/v2/events"]["post"]
    example = post["requestBody"]["content"]["application/json"]["examples"]
    assert (
        example["ReferenceExample"]["value"]["data"]["event_id"] == "848ASHC382392AHSJA"
    )
    assert {"200", "400", "403", "413", "415"} <= set(post["responses"])
    assert post["security"] == [{"awsSigV4": []}]


@pytest.mark.parametrize(
    "path", ["/api/schema/", "/api/docs/", "/index.html", "/api/redoc/"]
)
def test_docs_are_served_without_authentication(client, db, path):
    assert client.get(path).status_code == 200


def test_the_file_endpoints_are_documented(capsys):
    call_command("spectacular")
    schema = yaml.safe_load(capsys.readouterr().out)
    upload = schema["paths"]["/v3/files/profiles"]["post"]
    assert {"text/csv", "application/x-ndjson", "application/octet-stream"} <= set(
        upload["requestBody"]["content"]
    )
    assert {"202", "400", "411", "413", "415"} <= set(upload["responses"])
    assert upload["security"] == [{"awsSigV4File": []}]
    errors = schema["paths"]["/v3/files/{file_id}/errors"]["get"]["responses"]["200"]
    assert {"application/json", "text/csv"} <= set(errors["content"])


def test_a_fresh_servers_first_documents_requested_together_are_all_served(
    tmp_path, db
):
    """gthread: the first builds of the document in a process run in threads at once
    (drf-spectacular's first build is not thread-safe; it answered 500)."""
    env = server_env(shared_test_database_url(), "")
    port = processes.free_port()
    server = processes.start(
        processes.gunicorn_command(port, workers=1, worker_class="gthread", threads=8),
        log=tmp_path / "gunicorn.log",
        env=env,
    )
    url = processes.loopback_url(port)
    try:
        # Readiness from a page that does not build the document.
        processes.wait_for(lambda: processes.answers(url + "/healthz"), 30, "gunicorn")
        with ThreadPoolExecutor(8) as pool:
            answers = list(
                pool.map(
                    lambda _: (
                        requests.get(url + "/api/schema/", timeout=60).status_code
                    ),
                    range(8),
                )
            )
    finally:
        processes.stop(server)
    assert answers == [200] * 8, (tmp_path / "gunicorn.log").read_text()[-3000:]
