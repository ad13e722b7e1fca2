"""Per-key rate limiting: a fixed one-minute window per access key, counted in each
process and added up in Redis off the request path.

A request is counted in this process (no round trip: one in Redis cost 12 % of a
single ingest's CPU) and refused when the key's count, what Redis held at this
process's last report plus what it counted since, passes the limit. A thread of the
process reports its counts to Redis every ``REPORT_SECONDS`` (``INCRBY``, which
returns the key's total over every process). So a key may exceed its limit by what
the other processes admitted since their last report: at most (processes x the key's
rate x ``REPORT_SECONDS``) requests, 0.1 s of its rate per process. A refusal is
confirmed first: the process reports at once and judges the request again by the
fresh total (a round trip for refused requests only).

When a report finds Redis away the limit fails open: requests pass, a warning is
logged, and Redis is left alone for a few seconds, after which counting resumes. Since
the reports are off the request path, an outage adds no latency to ingestion.
"""

import logging
import os
import threading
import time
from functools import lru_cache

import redis
from django.conf import settings
from rest_framework.exceptions import Throttled
from rest_framework.throttling import BaseThrottle

from .caller import ApiCaller
from .metrics import rate_limit_observe

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60
REPORT_SECONDS = 0.1
_BREAKER_SECONDS = 5.0
_breaker_until = 0.0


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url, socket_timeout=0.1, socket_connect_timeout=0.1, health_check_interval=30
    )


def limit_for(caller: ApiCaller) -> int:
    """Requests per minute for this caller's key: the customer's, else the default."""
    return (
        caller.customer.rate_limit_per_minute
        or settings.DATATALKS_RATE_LIMIT_PER_MINUTE
    )


class _Counts:
    """This process's counts of the current window: what Redis last said of each key
    (``known``, this process's reports included) and what was counted since
    (``unreported``)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.window = -1
        self.known: dict[str, int] = {}
        self.unreported: dict[str, int] = {}
        self.reporter_pid = 0

    def count(self, access_key_id: str, now: float) -> int:
        """This request's number in the key's current window, as far as is known."""
        with self.lock:
            self._roll(int(now // WINDOW_SECONDS))
            unreported = self.unreported.get(access_key_id, 0) + 1
            self.unreported[access_key_id] = unreported
            if self.reporter_pid != os.getpid():  # none yet, or forked since
                self.reporter_pid = os.getpid()
                threading.Thread(
                    target=_report_forever, name="rate-limit-report", daemon=True
                ).start()
            return self.known.get(access_key_id, 0) + unreported

    def current(self, access_key_id: str) -> int:
        with self.lock:
            return self.known.get(access_key_id, 0) + self.unreported.get(
                access_key_id, 0
            )

    def _roll(self, window: int) -> None:
        if window != self.window:
            self.window, self.known, self.unreported = window, {}, {}

    def take(self) -> tuple[int, dict[str, int]]:
        """The counts not reported yet (now counted as reporting)."""
        with self.lock:
            taken, self.unreported = self.unreported, {}
            return self.window, taken

    def reported(self, window: int, totals: dict[str, int]) -> None:
        with self.lock:
            if window == self.window:
                self.known.update(totals)

    def unreport(self, window: int, taken: dict[str, int]) -> None:
        """Counts Redis did not take: kept for the next report."""
        with self.lock:
            if window == self.window:
                for key, n in taken.items():
                    self.unreported[key] = self.unreported.get(key, 0) + n


_counts = _Counts()


def count_request(access_key_id: str, now: float) -> int | None:
    """This request's number in the key's current window, as far as this process
    knows (Redis as of its last report, and its own requests since); None while
    Redis is away (or not configured)."""
    if not settings.REDIS_URL or now < _breaker_until:
        return None
    return _counts.count(access_key_id, now)


def count_confirmed(access_key_id: str, now: float) -> int | None:
    """The key's count after reporting at once (a request about to be refused is
    judged by fresh figures); None when the report finds Redis away."""
    counts_report(now)
    if now < _breaker_until:
        return None
    return _counts.current(access_key_id)


_reporting = threading.Lock()


def counts_report(now: float | None = None) -> None:
    """Adds this process's counts to Redis (one pipelined round trip) and learns each
    key's total over every process. Run every REPORT_SECONDS by the process's
    reporting thread; tests call it to report at once (after any report under way)."""
    with _reporting:
        _report(time.time() if now is None else now)


def _report(now: float) -> None:
    global _breaker_until
    if not settings.REDIS_URL or now < _breaker_until:
        return
    window, taken = _counts.take()
    if not taken:
        return
    try:
        pipe = _client(settings.REDIS_URL).pipeline(transaction=False)
        for access_key_id, n in taken.items():
            key = f"datatalks:rate:{access_key_id}:{window}"
            pipe.incrby(key, n)
            pipe.expire(key, WINDOW_SECONDS + 1, nx=True)
        replies = pipe.execute()
    except redis.RedisError as exc:
        _counts.unreport(window, taken)
        _breaker_until = now + _BREAKER_SECONDS
        logger.warning(
            "rate limiting is off for %.0f s: Redis error %s", _BREAKER_SECONDS, exc
        )
        return
    _counts.reported(window, dict(zip(taken, map(int, replies[::2]), strict=True)))


def _report_forever() -> None:
    while True:
        time.sleep(REPORT_SECONDS)
        try:
            counts_report()
        except Exception:  # the thread must outlive any one report
            logger.exception("rate limit report failed")


class KeyRateThrottle(BaseThrottle):
    """Refuses a key's requests beyond its per-minute limit with 429 and Retry-After."""

    def allow_request(self, request, view) -> bool:
        caller = request.user
        if not isinstance(caller, ApiCaller):
            return True
        now = time.time()
        count = count_request(caller.access_key_id, now)
        limit = limit_for(caller)
        if count is None or count <= limit:
            return True
        count = count_confirmed(caller.access_key_id, now)
        if count is None or count <= limit:
            return True
        wait = WINDOW_SECONDS - (now % WINDOW_SECONDS)
        rate_limit_observe(caller=caller)
        raise Throttled(
            wait=wait,
            detail=f"Rate limit exceeded: {limit} requests per minute for this key.",
        )
