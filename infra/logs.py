"""Logging: readable lines in development, JSON lines in production, both with the trace id.

Every record logged inside a span (an HTTP request, a workflow step, an activity) carries
``trace_id`` and ``span_id``, so a log line leads to its trace in the trace viewer and back.
"""

from __future__ import annotations

import json
import logging
import sys

from opentelemetry import trace

# Extra fields the Temporal SDK and our own code attach to records, kept in the JSON line.
_EXTRAS = ("temporal_workflow", "temporal_activity", "process_id", "task_id", "kind")


class TraceContextFilter(logging.Filter):
    """Adds ``trace_id``/``span_id`` (hex, or ``""`` outside any span) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            record.trace_id = format(context.trace_id, "032x")
            record.span_id = format(context.span_id, "016x")
        else:
            record.trace_id = record.span_id = ""
        return True


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if getattr(record, "trace_id", ""):
            entry["trace_id"] = record.trace_id  # type: ignore[attr-defined]
            entry["span_id"] = record.span_id  # type: ignore[attr-defined]
        for name in _EXTRAS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class ConsoleFormatter(logging.Formatter):
    """``12:00:01 INFO  kameng.worker: message [trace 4bf92f35]``: short, and greppable."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-5s %(name)s: %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        trace_id = getattr(record, "trace_id", "")
        return f"{line} [trace {trace_id[:8]}]" if trace_id else line


def configure_logging(fmt: str = "console", level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter() if fmt == "json" else ConsoleFormatter())
    handler.addFilter(TraceContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("temporalio.worker._workflow_instance",):
        logging.getLogger(noisy).setLevel(logging.WARNING)
