"""Group commit: the concurrent writes of a process's threads, made by one statement.

A gthread worker serves several requests at once, and each accepted single ingest was
a statement of its own: PostgreSQL parsed and planned it and flushed the WAL at its
commit, once per request. ``GroupCommit.submit`` lets them share that. A request whose
scope (for ingestion: customer, environment, configuration revision) has no write in
flight in this process is written at once, by its own thread; requests that arrive
while one is in flight queue, and when it ends the first of them writes every queued
one (up to ``limit``) by one call of ``write``. The thread that writes a group first
waits ``wait`` for more to come when the scope is busy: its last group held
``WAIT_FROM`` or more. It stops waiting as soon as every thread that submitted in the
last second is queued, since no other can come then. So groups grow under load, and a
request of a quiet scope (a lone request, half load, any request of a one-thread
worker) waits only for the write in flight, if any.

- Each request gets its own result, once the group's statement has committed.
- Two requests with the same key (a Hard-ID) never share a write (a statement changes
  a row once): the later one waits for the next group, so they are written in the
  order they arrived.
- When a group's write fails, its requests are written again one at a time (by the
  same thread, still in order) and each gets its own result or error: a bad request
  fails itself, never its neighbours.
- One writer per scope at a time in a process: a group never waits for a lock that
  another group of the same process holds.
"""

import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

# The writer waits for more only after a group of this many: at half load groups of
# one or two would each wait, adding that wait to most requests' latency.
WAIT_FROM = 3


@dataclass(eq=False)
class _Member:
    """One request waiting in a scope's queue, and then its outcome."""

    key: Hashable
    item: Any
    woken: threading.Event = field(default_factory=threading.Event)
    lead: bool = False  # its thread writes the next group
    done: bool = False
    result: Any = None
    error: BaseException | None = None


@dataclass(eq=False)
class _Scope:
    queue: list[_Member] = field(default_factory=list)
    busy: bool = False  # a thread is writing a group of this scope
    last_group: int = 0  # requests in its last group


class GroupCommit:
    """Writes of one process's threads, grouped per scope (thread-safe)."""

    def __init__(self, *, limit: int):
        self.limit = limit
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._scopes: dict[Hashable, _Scope] = {}
        self._threads: dict[int, float] = {}  # thread id: when it last submitted

    def submit(
        self,
        *,
        scope: Hashable,
        key: Hashable,
        item: Any,
        write: Callable[[list[Any]], list[Any]],
        wait: float = 0.0,
    ) -> Any:
        """``item``'s result of ``write(items)`` (one result per item, in order),
        written alone or with the items other threads submit meanwhile to ``scope``.
        Raises what writing ``item`` alone raised."""
        member = _Member(key, item)
        with self._lock:
            self._threads[threading.get_ident()] = time.monotonic()
            state = self._scopes.setdefault(scope, _Scope())
            state.queue.append(member)
            self._arrived.notify_all()
            member.lead = not state.busy
            contended = state.last_group >= WAIT_FROM
            state.busy = True
        if not member.lead:
            member.woken.wait()
        if member.lead:
            self._lead(scope, state, write, wait if contended else 0.0)
        if member.error is not None:
            raise member.error
        if not member.done:  # the writing thread was stopped (a worker's timeout)
            raise RuntimeError("the group's write did not finish")
        return member.result

    def _lead(self, scope, state: _Scope, write, wait: float) -> None:
        """Writes the queue's next group (this thread's request first), then hands
        the scope to the first request still queued, or leaves it idle."""
        if wait:
            self._gather(state, wait)
        group = self._take(state)
        try:
            _write_group(group, write)
        finally:
            with self._lock:
                following = state.queue[0] if state.queue else None
                if following is not None:
                    following.lead = True
                else:
                    state.busy = False
                    if state.last_group < WAIT_FROM:  # kept while contended
                        del self._scopes[scope]
            if following is not None:
                following.woken.set()
            for member in group[1:]:
                member.woken.set()

    def _gather(self, state: _Scope, wait: float) -> None:
        """Waits up to ``wait`` for more requests, while some thread that may bring
        one is not queued yet."""
        deadline = time.monotonic() + wait
        with self._lock:
            while len(state.queue) < min(self.limit, self._submitting()):
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._arrived.wait(left)

    def _submitting(self) -> int:
        """Threads that submitted in the last second (under the lock)."""
        now = time.monotonic()
        for ident, last in list(self._threads.items()):
            if now - last > 1.0:
                del self._threads[ident]
        return len(self._threads)

    def _take(self, state: _Scope) -> list[_Member]:
        """The queued requests of the next group: at most ``limit``, one per key, in
        the order they came; the others stay queued."""
        group: list[_Member] = []
        keys: set = set()
        with self._lock:
            rest = []
            for member in state.queue:
                if len(group) < self.limit and member.key not in keys:
                    keys.add(member.key)
                    group.append(member)
                else:
                    rest.append(member)
            state.queue = rest
            state.last_group = len(group)
        return group


def _write_group(group: list[_Member], write) -> None:
    """Every member's outcome: from one write of all, or, when that fails, from a
    write of each alone."""
    try:
        results = write([m.item for m in group])
    except Exception as exc:
        if len(group) == 1:
            group[0].error = exc
            return
        logger.warning(
            "a group of %d writes failed (%s); each is written on its own",
            len(group),
            type(exc).__name__,
        )
    else:
        for member, result in zip(group, results, strict=True):
            member.result, member.done = result, True
        return
    for member in group:
        try:
            [member.result] = write([member.item])
            member.done = True
        except Exception as exc:  # the member's own error, raised in its thread
            member.error = exc
