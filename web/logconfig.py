"""Logging, configured in one place: JSON lines (one object per line, for collectors) or readable text,
every line stamped with the id of the request it was written for. Idempotent: tests build many apps."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import TextIO

from web.requestid import RequestIdFilter

HANDLER_NAME = "gateway"
# The access line's fields (web.accesslog); JSON lines carry them as members of their own.
FIELDS = ("method", "path", "operation_id", "status", "duration_ms", "principal", "client")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        created = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        entry: dict[str, object] = {
            "time": created.replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        entry.update({name: getattr(record, name) for name in FIELDS if hasattr(record, name)})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def formatter(log_format: str) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter()
    return logging.Formatter(TEXT_FORMAT, defaults={"request_id": "-"})


class StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to the sys.stderr of the moment, which servers and test runners replace."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def prepare(handler: logging.Handler, log_format: str) -> logging.Handler:
    """Gives a handler the service's format and request-id stamping."""
    handler.setFormatter(formatter(log_format))
    if not any(isinstance(existing, RequestIdFilter) for existing in handler.filters):
        handler.addFilter(RequestIdFilter())
    return handler


def configure_logging(log_format: str, level: str) -> None:
    root = logging.getLogger()
    handler = next((h for h in root.handlers if h.get_name() == HANDLER_NAME), None)
    if handler is None:
        handler = StderrHandler()
        handler.set_name(HANDLER_NAME)
        root.addHandler(handler)
    prepare(handler, log_format)
    root.setLevel(level)
    # uvicorn's own lines (start, stop, errors) in the same format; its access log is off (make run),
    # gateway.access replaces it.
    uvicorn = logging.getLogger("uvicorn")
    uvicorn.handlers.clear()
    uvicorn.propagate = True
