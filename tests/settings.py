"""Test settings: the real settings with fixed test secrets and fast password hashing."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-secret-key")
os.environ.setdefault(
    "DATATALKS_ENCRYPTION_KEY", "dGVzdHMtb25seS1lbmNyeXB0aW9uLWtleS0zMmJ5dGU="
)

# The Salesmanago sandbox runs on loopback in every test.
os.environ.setdefault("SALESMANAGO_ALLOW_LOOPBACK", "true")

from datatalks.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
ALLOWED_HOSTS = ["*"]
