"""Structured logs: one JSON object a line, with the event name and its fields; never a secret."""

from __future__ import annotations

import atexit
import json
import logging
import logging.handlers
import queue
import sys
from datetime import UTC, datetime

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


class _Enqueue(logging.handlers.QueueHandler):
    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        # Keep the record as it is (its extra fields); the listener's formatter renders it.
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        return record


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


_listener: logging.handlers.QueueListener | None = None


def _stop() -> None:
    """Write what is still queued before the process ends."""
    global _listener
    if _listener is not None:
        _listener.stop()
        _listener = None


def configure(level: str = "INFO") -> None:
    """JSON lines on stderr, formatted and written by a background thread: a request only puts
    its record on a queue, and never waits on the terminal or a slow log collector."""
    global _listener
    if _listener is not None:
        _listener.stop()
    else:
        atexit.register(_stop)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter())
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    _listener = logging.handlers.QueueListener(records, handler)
    _listener.start()
    root = logging.getLogger()
    root.handlers[:] = [_Enqueue(records)]
    root.setLevel(level)
    for noisy in ("uvicorn.access", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
