"""The request log: one RequestLog row per API request, so support can answer "what
happened to X".

The row is written by whoever answered: ``ingestion.apiview.ApiView`` for the API's
own endpoints (with what the service returned: the type and mapping version that judged
the body), ``ingestion.middleware.ApiRequestMiddleware`` for answers no API view gave
(413, 404, errors outside a view). Nothing is read back from the request.
"""

import logging

from django.db import DatabaseError

from datatalks.api import DEPENDENCY_DOWN
from datatalks.outages import POSTGRESQL, dependency_row_lost

from .caller import ApiCaller
from .models import RequestLog
from .validation import Judgement

logger = logging.getLogger(__name__)


def request_log_write(
    *,
    request,
    caller: ApiCaller | None,
    status_code: int,
    answer: dict,
    judgement: Judgement,
    duration_ms: float,
    changed: bool | None = None,
) -> None:
    """Writes the row of one answered request; a database error only loses the row."""
    try:
        RequestLog.objects.create(
            request_id=request.request_id,
            customer=caller.customer if caller else None,
            access_key_id=caller.access_key_id if caller else "",
            environment=caller.environment if caller else "",
            method=request.method[:10],
            path=request.path[:300],
            type_name=judgement.type_name[:100],
            mapping_version=judgement.mapping_version,
            status_code=status_code,
            messages=answer.get("messages", []),
            datatalks_id=answer.get("datatalksId"),
            changed=changed,
            duration_ms=round(duration_ms, 3),
        )
    except DEPENDENCY_DOWN:
        dependency_row_lost(POSTGRESQL)  # the outage's lines count it
    except DatabaseError:
        logger.warning("request log not written: database error", exc_info=True)
