"""Per-key rate limiting, counted in Redis: a fixed one-minute window per access key.

When Redis cannot be reached the limit fails open (requests pass, a warning is logged)
and Redis is left alone for a few seconds, so an outage adds no latency to ingestion.
"""

import logging
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


def count_request(access_key_id: str, now: float) -> int | None:
    """This request's number in the key's current window; None when Redis is away."""
    global _breaker_until
    if not settings.REDIS_URL or now < _breaker_until:
        return None
    window = int(now // WINDOW_SECONDS)
    key = f"datatalks:rate:{access_key_id}:{window}"
    try:
        pipe = _client(settings.REDIS_URL).pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, WINDOW_SECONDS + 1, nx=True)
        count, _ = pipe.execute()
    except redis.RedisError as exc:
        _breaker_until = now + _BREAKER_SECONDS
        logger.warning(
            "rate limiting is off for %.0f s: Redis error %s", _BREAKER_SECONDS, exc
        )
        return None
    return int(count)


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
        wait = WINDOW_SECONDS - (now % WINDOW_SECONDS)
        rate_limit_observe(caller=caller)
        raise Throttled(
            wait=wait,
            detail=f"Rate limit exceeded: {limit} requests per minute for this key.",
        )
