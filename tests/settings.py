"""Test settings: the real settings with fixed test secrets and fast password hashing."""

import os
import tempfile

os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-secret-key")
os.environ.setdefault(
    "DATATALKS_ENCRYPTION_KEY", "dGVzdHMtb25seS1lbmNyeXB0aW9uLWtleS0zMmJ5dGU="
)

# The Salesmanago sandbox runs on loopback in every test.
os.environ.setdefault("SALESMANAGO_ALLOW_LOOPBACK", "true")
# Uploaded files go to a directory of this test run's own; servers and workers the
# tests start inherit the variable, so they share it (tests/conftest.py removes it).
os.environ.setdefault(
    "DATATALKS_FILES_DIR", tempfile.mkdtemp(prefix="datatalks-test-files-")
)

from datatalks.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
ALLOWED_HOSTS = ["*"]
