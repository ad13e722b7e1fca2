"""Fixtures of the ingestion tests."""

import pytest


@pytest.fixture
def files_dir(settings, tmp_path):
    """This test's own files storage, so what it leaves behind can be listed."""
    settings.STORAGES = {
        **settings.STORAGES,
        "files": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "files")},
        },
    }
