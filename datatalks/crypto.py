"""Secrets at rest: Fernet encryption with keys from DATATALKS_ENCRYPTION_KEY.

The variable holds one or more Fernet keys, comma-separated; the first encrypts and all
decrypt, so a key rotates by putting the new one first. In DEBUG without a key, a
development key is derived from SECRET_KEY (the system check below warns, once per
``manage.py`` command: make run prints it once, at start-up); in production it is an error.
"""

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import models

KEY_HINT = (
    "python -c 'from cryptography.fernet import Fernet; "
    "print(Fernet.generate_key().decode())'"
)


@checks.register(checks.Tags.security)
def encryption_key_check(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Warns that no key is set (in DEBUG; otherwise the first use is an error)."""
    if settings.DATATALKS_ENCRYPTION_KEY or not settings.DEBUG:
        return []
    return [
        checks.Warning(
            "DATATALKS_ENCRYPTION_KEY is not set; secrets at rest use a development "
            "key derived from DJANGO_SECRET_KEY.",
            hint=f"Set it before storing real secrets; generate one with `{KEY_HINT}`.",
            id="datatalks.W001",
        )
    ]


@lru_cache(maxsize=4)
def _fernet(keys: str, debug: bool, secret_key: str) -> MultiFernet:
    if not keys:
        if not debug:
            raise ImproperlyConfigured(
                f"DATATALKS_ENCRYPTION_KEY is not set; generate one with `{KEY_HINT}`"
            )
        derived = hashlib.sha256(
            b"datatalks-dev-encryption:" + secret_key.encode()
        ).digest()
        keys = base64.urlsafe_b64encode(derived).decode()
    try:
        return MultiFernet([Fernet(k.strip()) for k in keys.split(",") if k.strip()])
    except ValueError:
        raise ImproperlyConfigured(
            "DATATALKS_ENCRYPTION_KEY must be comma-separated Fernet keys "
            "(32 url-safe base64-encoded bytes each)"
        ) from None


def fernet() -> MultiFernet:
    return _fernet(
        settings.DATATALKS_ENCRYPTION_KEY, settings.DEBUG, settings.SECRET_KEY
    )


def encrypt(plain: str) -> str:
    return fernet().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ImproperlyConfigured(
            "A stored secret cannot be decrypted with DATATALKS_ENCRYPTION_KEY"
        ) from None


class EncryptedTextField(models.TextField):
    """A text column whose value is Fernet-encrypted in the database."""

    def from_db_value(self, value, expression, connection):
        return None if value is None else decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return None if value is None else encrypt(value)
