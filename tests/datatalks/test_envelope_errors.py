"""The one exception handler: every failure is an envelope, and a fault shows no internals."""

from django.db import OperationalError
from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from datatalks.api import SERVER_ERROR, exception_handler


def handle(exc):
    django_request = APIRequestFactory().post("/v2/profiles")
    django_request.request_id = "8d1c0a53-0000-4000-8000-000000000001"
    return exception_handler(exc, {"request": Request(django_request)})


def test_a_fault_is_a_500_with_the_request_id_and_no_internals(caplog):
    response = handle(RuntimeError("password=hunter2 in /srv/app/secret.py"))
    assert response.status_code == 500
    assert response.data["messages"] == [SERVER_ERROR]
    assert response.data["requestId"] == "8d1c0a53-0000-4000-8000-000000000001"
    assert "hunter2" not in str(response.data)
    assert "unhandled error" in caplog.text  # the traceback goes to the log instead


def test_an_unreachable_database_is_a_503_with_retry_after():
    response = handle(OperationalError("connection refused"))
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.data["success"] is False


def test_no_authentication_is_a_403_in_the_envelope():
    response = handle(NotAuthenticated("Missing Authentication Token"))
    assert response.status_code == 403
    assert response.data["messages"] == ["Missing Authentication Token"]


def test_api_answers_forbid_loading_anything(api):
    response = api.post("/v2/profiles", {}, format="json")
    assert (
        response["Content-Security-Policy"]
        == "default-src 'none'; frame-ancestors 'none'"
    )
