"""Test settings: the real settings with fixed test secrets and fast password hashing."""

import os
import tempfile

os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-secret-key")
os.environ.setdefault(
    "DATATALKS_ENCRYPTION_KEY", "dGVzdHMtb25seS1lbmNyeXB0aW9uLWtleS0zMmJ5dGU="
)

# The Salesmanago sandbox runs on loopback in every test.
os.environ.setdefault("SALESMANAGO_ALLOW_LOOPBACK", "true")
# Tests refuse many unsigned requests in a minute and read their rows back; the budget
# itself is tested with a server of its own (tests/ingestion/test_request_log_flood.py).
os.environ.setdefault("DATATALKS_REQUEST_LOG_ANONYMOUS_PER_MINUTE", "1000000")
# Uploaded files go to a directory of this test run's own; servers and workers the
# tests start inherit the variable, so they share it (tests/conftest.py removes it).
os.environ.setdefault(
    "DATATALKS_FILES_DIR", tempfile.mkdtemp(prefix="datatalks-test-files-")
)

from datatalks.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
ALLOWED_HOSTS = ["*"]
