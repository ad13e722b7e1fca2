"""Log formats: plain text for development (make run), one JSON object per line in
production (``DATATALKS_LOG_FORMAT``), each with the request's id, customer and key
(datatalks.middleware.RequestIdLogFilter)."""

import json
import logging
from datetime import UTC, datetime

# A LogRecord's own attributes; anything else on a record came in ``extra=``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "request_id",
    "customer",
    "key",
}
_SIMPLE = (str, int, float, bool, type(None))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, customer,
    key, the simple values passed in ``extra=``, and a traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
            "customer": getattr(record, "customer", "-"),
            "key": getattr(record, "key", "-"),
        }
        for name, value in vars(record).items():
            if name not in _STANDARD and isinstance(value, _SIMPLE):
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)
