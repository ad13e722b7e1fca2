"""Health and readiness for load balancers and orchestrators (docs/operations.md).

``/healthz`` says the process answers and touches nothing. ``/readyz`` says whether
this node can serve the API: PostgreSQL and the Celery broker must answer within
``DATATALKS_READY_TIMEOUT_SECONDS``, each on a fresh connection with that timeout,
so a server that hangs cannot hold the probe. Neither is signed, rate limited or
written to the request log (they are outside /v2/ and /v3/).
"""

import os
from functools import lru_cache

import redis
from django.conf import settings
from django.db import DatabaseError, connections
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from . import outages
from .api import envelope

POSTGRESQL = "postgresql"
BROKER = "broker"
# How the outage lines name each (datatalks.outages).
DEPENDENCY = {POSTGRESQL: outages.POSTGRESQL, BROKER: outages.BROKER}


def database_check(timeout: float) -> str | None:
    """None when the database answers ``SELECT 1`` in time, else why not."""
    wrapper = connections.create_connection("default")
    options = dict(wrapper.settings_dict.get("OPTIONS") or {})
    if wrapper.vendor == "postgresql":
        seconds = max(1, round(timeout))  # libpq counts whole seconds
        options["connect_timeout"] = seconds
        options["options"] = f"-c statement_timeout={int(timeout * 1000)}"
    wrapper.settings_dict = {**wrapper.settings_dict, "OPTIONS": options}
    try:
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        return _why(exc)
    finally:
        wrapper.close()
    return None


@lru_cache(maxsize=4)
def _redis(url: str, timeout: float) -> redis.Redis:
    return redis.Redis.from_url(
        url, socket_timeout=timeout, socket_connect_timeout=timeout
    )


def broker_check(timeout: float) -> str | None:
    """None when the broker answers in time (Redis: PING), else why not."""
    if not settings.REDIS_URL:
        folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]
        if os.access(folder, os.W_OK):
            return None
        return f"the broker folder {folder} is not writable"
    try:
        _redis(settings.REDIS_URL, timeout).ping()
    except redis.RedisError as exc:
        return _why(exc)
    return None


def _why(exc: Exception) -> str:
    first_line = (str(exc).strip().splitlines() or [""])[0]
    return f"{exc.__class__.__name__}: {first_line}"


CHECKS = {POSTGRESQL: database_check, BROKER: broker_check}

_CHECKS_SCHEMA = inline_serializer(
    "ReadinessAnswer",
    {
        "success": serializers.BooleanField(),
        "messages": serializers.ListField(child=serializers.CharField()),
        "requestId": serializers.UUIDField(),
        "datatalksId": serializers.CharField(allow_null=True),
        "key": serializers.CharField(allow_null=True),
        "checks": serializers.DictField(child=serializers.CharField()),
    },
)


class OpsView(APIView):
    """Unsigned, never throttled: a balancer calls these every few seconds."""

    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []


class HealthView(OpsView):
    @extend_schema(
        operation_id="healthz",
        tags=["operations"],
        summary="Liveness: the process answers",
        description="Touches no dependency; always 200 while the process runs.",
        responses={200: _CHECKS_SCHEMA},
    )
    def get(self, request):
        body = envelope(request, success=True, messages=[])
        return Response({**body, "checks": {}})


class ReadyView(OpsView):
    @extend_schema(
        operation_id="readyz",
        tags=["operations"],
        summary="Readiness: PostgreSQL and the broker answer",
        description=(
            "200 when PostgreSQL and the Celery broker each answer within "
            "DATATALKS_READY_TIMEOUT_SECONDS; 503 naming the one that did not."
        ),
        responses={200: _CHECKS_SCHEMA, 503: _CHECKS_SCHEMA},
    )
    def get(self, request):
        timeout = settings.DATATALKS_READY_TIMEOUT_SECONDS
        failed = {name: check(timeout) for name, check in CHECKS.items()}
        for name, why in failed.items():
            if why:  # one line per failed probe, and the outage's summaries
                outages.dependency_failed(
                    DEPENDENCY[name], why, method=request.method, path=request.path
                )
            else:
                outages.dependency_back(DEPENDENCY[name])
        failed = {name: why for name, why in failed.items() if why}
        checks = {name: ("unavailable" if name in failed else "ok") for name in CHECKS}
        messages = [f"{name} is unavailable" for name in failed]
        body = envelope(request, success=not failed, messages=messages)
        return Response({**body, "checks": checks}, status=503 if failed else 200)
