"""Suppression at ingest: data that identifies an erased and suppressed person is
refused before anything is written.

An erased person's identifiers are kept only as keyed hashes (HMAC-SHA256 with
DJANGO_SECRET_KEY; its fallbacks still match, so the key can rotate). A customer with
no suppression costs no query: whether it has any is cached per configuration
revision, which every suppression and lift bumps.
"""

from functools import lru_cache

from django.conf import settings
from django.utils.crypto import salted_hmac

from ingestion.caller import ApiCaller
from ingestion.storage import normalize_identifier, profile_link
from ingestion.validation import IngestRequest

from .models import Suppression

REFUSED = (
    "This data identifies a person who was erased and suppressed at your request: "
    "it was not stored or sent. Data Talks staff can lift the suppression."
)
_SALT = "datatalks.privacy.suppression"


def hard_id_text(type_id: int, hard_key: str) -> str:
    """The text a Hard-ID of a type is hashed as (also an event's link to it)."""
    return f"hard\x1f{type_id}\x1f{hard_key}"


def secondary_id_text(kind: str, normalized: str) -> str:
    """The text a secondary id (already normalized) is hashed as."""
    return f"id\x1f{kind}\x1f{normalized}"


def digest(text: str, secret: str | None = None) -> str:
    """The keyed hash a suppression stores (with the current key by default)."""
    return salted_hmac(_SALT, text, secret=secret, algorithm="sha256").hexdigest()


def _digests(text: str) -> list[str]:
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return [digest(text, key) for key in keys]


def request_identifiers(request: IngestRequest) -> list[str]:
    """What identifies a person in a valid body: its Hard-ID, the profile an event
    refers to, and its secondary ids (as hashed texts)."""
    texts = [hard_id_text(request.type.id, request.hard_key)]
    profile_type_id, profile_key = profile_link(request)
    if profile_type_id is not None:
        texts.append(hard_id_text(profile_type_id, profile_key))
    for field in request.type.fields:
        value = request.values.get(field.cdp)
        if field.secondary_id and value not in (None, ""):
            texts.append(secondary_id_text(field.cdp, normalize_identifier(value)))
    return texts


def suppression_refusals(
    *, caller: ApiCaller, requests: list[IngestRequest]
) -> set[int]:
    """The indexes of the requests that identify a suppressed person."""
    customer = caller.customer
    if not requests or not _has_suppressions(
        customer.pk, customer.config_revision, caller.environment
    ):
        return set()
    wanted = {
        index: {d for text in request_identifiers(r) for d in _digests(text)}
        for index, r in enumerate(requests)
    }
    found = set(
        Suppression.objects.filter(
            customer_id=customer.pk,
            environment=caller.environment,
            lifted_at__isnull=True,
            digest__in=set().union(*wanted.values()),
        ).values_list("digest", flat=True)
    )
    return {index for index, digests in wanted.items() if digests & found}


@lru_cache(maxsize=4096)
def _has_suppressions(customer_id: int, revision: int, environment: str) -> bool:
    return Suppression.objects.filter(
        customer_id=customer_id, environment=environment, lifted_at__isnull=True
    ).exists()


def split_suppressed(
    *, caller: ApiCaller, items: list[tuple[int, IngestRequest]]
) -> tuple[list[tuple[int, IngestRequest]], list[int]]:
    """A batch's valid (index, request) pairs without those of suppressed persons,
    and those items' indexes."""
    refused = suppression_refusals(caller=caller, requests=[r for _, r in items])
    kept = [item for position, item in enumerate(items) if position not in refused]
    return kept, [items[position][0] for position in sorted(refused)]
