"""External events to Salesmanago, one call each, and the ids Salesmanago gave them.

Only the single add answers the new event's ``eventId`` (the batch add answers counts),
so an event is added alone and its id kept per data point and account. A later
revision of the same data point updates that event (``updateContactExtEvent`` with the
id) instead of adding a second one, which would fire the account's automations again.
services.py claims the deliveries and records what these calls return.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils import timezone

from .models import SalesmanagoEvent
from .salesmanago.errors import Exchange, SalesmanagoError
from .salesmanago.results import ItemResult

logger = logging.getLogger(__name__)


NOT_RESENT = (
    "It is not resent on its own (a duplicate event fires automations twice): check "
    "the contact in Salesmanago, then Replay it here if it is missing."
)
UNANSWERED = (
    "{error} after the request was sent, so Salesmanago may have this event already. "
    + NOT_RESENT
)


@dataclass(frozen=True)
class EventCall:
    """One event's call: its result (``remote_id`` is the eventId), the exchange when
    a call was made, and the server's Retry-After when it sent one. ``in_doubt``: an
    add sent but not answered, whose outcome is unknown (never retried)."""

    result: ItemResult
    exchange: Exchange | None
    retry_after: float | None = None
    in_doubt: bool = False


def event_ids(*, account_id: int, data_point_ids: Iterable) -> dict:
    """The eventId Salesmanago holds for each of these data points, by data point."""
    rows = SalesmanagoEvent.objects.filter(
        account_id=account_id, data_point_id__in=list(data_point_ids)
    ).values_list("data_point_id", "event_id")
    return dict(rows)


def event_ids_save(*, account_id: int, sent: list[tuple]) -> None:
    """Keeps the eventId of each (data point id, revision, event id) sent; one
    statement, an upsert on (data point, account)."""
    now = timezone.now()
    SalesmanagoEvent.objects.bulk_create(
        [
            SalesmanagoEvent(
                account_id=account_id,
                data_point_id=data_point_id,
                revision=revision,
                event_id=event_id,
                updated_at=now,
            )
            for data_point_id, revision, event_id in sent
        ],
        update_conflicts=True,
        unique_fields=["data_point", "account"],
        update_fields=["event_id", "revision", "updated_at"],
    )


def event_call(outcome, event_id: str | None) -> EventCall:
    """An event call's outcome (an EventWave answer) as its delivery records it."""
    if isinstance(outcome, SalesmanagoError) and outcome.in_doubt and not event_id:
        # An add may have landed: a second one would add the event twice. An update
        # names its event, so it is retried like any transient failure.
        message = UNANSWERED.format(error=outcome.message)
        result = ItemResult(False, None, message, True)
        return EventCall(result, outcome.exchange, in_doubt=True)
    if isinstance(outcome, SalesmanagoError):
        result = ItemResult(False, event_id, outcome.message, outcome.permanent)
        return EventCall(result, outcome.exchange, outcome.retry_after)
    if isinstance(outcome, Exception):
        # A fault of ours is retried like a transient failure, with its traceback.
        logger.error("sending an event failed", exc_info=outcome)
        return EventCall(
            ItemResult(False, event_id, f"Internal error: {outcome!r}", False), None
        )
    result = outcome.results[0]
    if not (event_id or result.remote_id):
        logger.warning("Salesmanago added an event without answering its eventId")
    if event_id:  # the update answers the same id; ours stands if it answers none
        result = ItemResult(True, result.remote_id or event_id, "", False)
    return EventCall(result, outcome.exchange)
