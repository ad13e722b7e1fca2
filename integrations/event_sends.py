"""External events to Salesmanago, one call each, and the ids Salesmanago gave them.

Only the single add answers the new event's ``eventId`` (the batch add answers counts),
so an event is added alone and its id kept per data point and account. A later
revision of the same data point updates that event (``updateContactExtEvent`` with the
id) instead of adding a second one, which would fire the account's automations again.
services.py claims the deliveries and records what these calls return.
"""

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.utils import timezone

from .models import SalesmanagoEvent
from .salesmanago.client import BeforeSend, SalesmanagoClient
from .salesmanago.errors import Exchange, SalesmanagoError
from .salesmanago.results import ItemResult

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EventCall:
    """One event's call: its result (``remote_id`` is the eventId), the exchange when
    a call was made, and the server's Retry-After when it sent one."""

    result: ItemResult
    exchange: Exchange | None
    retry_after: float | None = None


class Unmarked(Exception):
    """The wave was not marked on the wire, so its requests must not go."""


class Gate:
    """Holds a wave of event requests, each ready to go, until the wave is marked on
    the wire, then lets them all go at once.

    A mark must come before the call (a worker that dies after marking leaves the
    call in doubt, never sent twice); marking the wave only when every request is
    ready keeps the time between the mark and the sends, when a dying worker leaves
    calls marked but not made, as short as one batch call's.
    """

    def __init__(self, size: int):
        self._waiting = size
        self._ready = threading.Condition()
        self._go = threading.Event()
        self._marked: frozenset = frozenset()

    def arrive(self) -> None:
        """One request is ready (or will not be made)."""
        with self._ready:
            self._waiting -= 1
            self._ready.notify()

    def before_send(self, key) -> None:
        """In a sending thread: waits for the mark; Unmarked if ``key`` was not
        marked (the mark failed, or the request was taken back)."""
        self.arrive()
        self._go.wait()
        if key not in self._marked:
            raise Unmarked

    def open(self, mark: Callable[[], Iterable]) -> frozenset:
        """Once every request is ready, runs ``mark``, which returns the keys it
        marked, and lets those go; returns them."""
        with self._ready:
            self._ready.wait_for(lambda: self._waiting <= 0)
        try:
            self._marked = frozenset(mark())
        finally:
            self._go.set()
        return self._marked


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


def event_send(
    client: SalesmanagoClient, item: dict, event_id: str | None, gate: Gate, key
) -> EventCall:
    """Adds the event, or updates it when it has an id, when ``gate`` lets ``key``
    go; Unmarked if it does not."""
    arrived = []

    def before_send():
        arrived.append(True)
        gate.before_send(key)

    try:
        return _send(client, item, event_id, before_send)
    finally:
        if not arrived:  # failed before its request was ready: nothing to wait for
            gate.arrive()


def _send(
    client: SalesmanagoClient, item: dict, event_id: str | None, before_send: BeforeSend
) -> EventCall:
    try:
        if event_id:
            sent = client.update_event(item, event_id, before_send=before_send)
        else:
            sent = client.add_event(item, before_send=before_send)
    except SalesmanagoError as exc:
        result = ItemResult(False, event_id, exc.message, exc.permanent)
        return EventCall(result, exc.exchange, exc.retry_after)
    except Unmarked:
        raise  # the wave could not be marked on the wire: nothing was sent
    except Exception as exc:
        # A fault of ours is retried like a transient failure, with its traceback.
        logger.exception("sending an event failed")
        return EventCall(
            ItemResult(False, event_id, f"Internal error: {exc!r}", False), None
        )
    result = sent.results[0]
    if not (event_id or result.remote_id):
        logger.warning("Salesmanago added an event without answering its eventId")
    if event_id:  # the update answers the same id; ours stands if it answers none
        result = ItemResult(True, result.remote_id or event_id, "", False)
    return EventCall(result, sent.exchange)
