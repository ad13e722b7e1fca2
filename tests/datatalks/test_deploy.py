"""Deployment settings: ``check --deploy`` passes with the production values the README
documents, and the security headers are on API responses and admin pages.

The settings are read from the environment once, at import, so each configuration is
loaded in a subprocess of its own, exactly as a deployment would load it.
"""

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
HEADER_SETTINGS = [
    "DEBUG",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_CONTENT_TYPE_NOSNIFF",
    "SECURE_REFERRER_POLICY",
    "SECURE_CROSS_ORIGIN_OPENER_POLICY",
    "X_FRAME_OPTIONS",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
]
PLACEHOLDERS = {
    "DJANGO_SECRET_KEY": lambda: secrets.token_urlsafe(50),
    "DATATALKS_ENCRYPTION_KEY": lambda: Fernet.generate_key().decode(),
}


def production_settings() -> dict[str, str]:
    """The variables of the README's "Production settings" block, placeholders filled."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Production settings", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    values = dict(line.split("=", 1) for line in block.splitlines() if line.strip())
    for name, value in values.items():
        if value.startswith("<"):
            values[name] = PLACEHOLDERS[name]()
    return values


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """``manage.py args`` with only ``env`` for settings (nothing from this process)."""
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATATALKS_", "ALLOWED_HOSTS", "CSRF_"))
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**inherited, "DJANGO_SETTINGS_MODULE": "datatalks.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess:
    return run(["check", "--deploy", "--fail-level", "WARNING"], env)


def loaded_settings(env: dict[str, str]) -> dict:
    """The security settings as Django loads them from ``env``."""
    names = json.dumps(HEADER_SETTINGS)
    code = (
        "import json; from django.conf import settings; "
        f"print(json.dumps({{n: getattr(settings, n) for n in {names}}}))"
    )
    result = run(["shell", "-c", code], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def production():
    return production_settings()


# check --deploy.


def test_the_readme_documents_every_https_and_hsts_variable(production):
    for name in (
        "DJANGO_DEBUG",
        "DJANGO_SECRET_KEY",
        "DJANGO_SECURE_SSL_REDIRECT",
        "DJANGO_SECURE_COOKIES",
        "DJANGO_HSTS_SECONDS",
        "DJANGO_HSTS_INCLUDE_SUBDOMAINS",
        "DJANGO_HSTS_PRELOAD",
    ):
        assert name in production, name
    assert production["DJANGO_DEBUG"] == "false"


def test_check_deploy_passes_with_the_readme_production_settings(production):
    result = check_deploy(production)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    "left_out,warning",
    [
        ("DJANGO_SECURE_SSL_REDIRECT", "security.W008"),
        ("DJANGO_HSTS_SECONDS", "security.W004"),
        ("DJANGO_HSTS_PRELOAD", "security.W021"),
    ],
)
def test_check_deploy_fails_when_a_production_value_is_left_out(
    production, left_out, warning
):
    env = {k: v for k, v in production.items() if k != left_out}
    result = check_deploy(env)
    assert result.returncode != 0
    assert warning in result.stderr + result.stdout


def test_check_deploy_fails_with_insecure_cookies_or_a_weak_secret(production):
    cookies = check_deploy({**production, "DJANGO_SECURE_COOKIES": "false"})
    assert cookies.returncode != 0 and "security.W012" in cookies.stderr
    weak = check_deploy({**production, "DJANGO_SECRET_KEY": "short"})
    assert weak.returncode != 0 and "security.W009" in weak.stderr


def test_a_proxy_header_that_is_not_a_header_name_stops_the_service(production):
    env = {**production, "DJANGO_SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto: https"}
    result = check_deploy(env)
    assert result.returncode != 0
    assert "DJANGO_SECURE_PROXY_SSL_HEADER" in result.stderr


def test_production_values_become_the_settings(production):
    loaded = loaded_settings(production)
    assert loaded["SECURE_SSL_REDIRECT"] is True
    assert loaded["SECURE_HSTS_SECONDS"] == 31536000
    assert loaded["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert loaded["SESSION_COOKIE_SECURE"] and loaded["CSRF_COOKIE_SECURE"]


def test_development_keeps_the_headers_but_not_https(production):
    loaded = loaded_settings({"DJANGO_DEBUG": "true"})
    assert loaded["DEBUG"] is True
    assert (loaded["SECURE_SSL_REDIRECT"], loaded["SECURE_HSTS_SECONDS"]) == (False, 0)
    assert loaded["X_FRAME_OPTIONS"] == "DENY"
    assert loaded["SECURE_CONTENT_TYPE_NOSNIFF"] is True
    assert loaded["SECURE_REFERRER_POLICY"] == "same-origin"


# Headers, with the settings production loads.


@pytest.fixture
def deployed(production, settings):
    """This process's settings replaced by those the production values load."""
    loaded = loaded_settings(production)
    loaded.pop("DEBUG")
    proxy = loaded.pop("SECURE_PROXY_SSL_HEADER")
    settings.SECURE_PROXY_SSL_HEADER = tuple(proxy)
    for name, value in loaded.items():
        setattr(settings, name, value)
    return settings


def assert_security_headers(response) -> None:
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["Strict-Transport-Security"] == (
        "max-age=31536000; includeSubDomains; preload"
    )


def test_an_api_response_carries_the_security_headers(deployed, client, db):
    response = client.post(
        "/v2/profiles", b"{}", content_type="application/json", secure=True
    )
    assert response.status_code == 403 and response.json()["requestId"]
    assert_security_headers(response)


def test_an_admin_page_carries_the_security_headers_and_secure_cookies(
    deployed, client, db
):
    response = client.get("/admin/login/", secure=True)
    assert response.status_code == 200
    assert_security_headers(response)
    assert response.cookies["csrftoken"]["secure"] is True


def test_plain_http_is_redirected_to_https(deployed, client, db):
    for path in ("/admin/login/", "/v3/profiles"):
        response = client.get(path)
        assert response.status_code == 301
        assert response["Location"] == f"https://testserver{path}"


def test_https_ended_at_a_proxy_counts_as_https(deployed, client, db):
    response = client.get("/admin/login/", HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 200
    assert_security_headers(response)
