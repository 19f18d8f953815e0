"""Structured logs: JSON lines with the ids of the request or job that wrote them."""

from __future__ import annotations

import json
import logging

from studio.monitoring.logs import JsonFormatter, TextFormatter, job_id_var, request_id_var


def _record(message: str, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("studio.test", logging.WARNING, __file__, 1, message, None, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_json_lines_carry_the_request_id_and_extras():
    token = request_id_var.set("abc123")
    try:
        line = JsonFormatter().format(_record("slow %s", status=200, duration_ms=12.5))
    finally:
        request_id_var.reset(token)
    entry = json.loads(line)
    assert entry["message"] == "slow %s" and entry["level"] == "warning" and entry["logger"] == "studio.test"
    assert entry["request_id"] == "abc123" and entry["status"] == 200 and entry["duration_ms"] == 12.5
    assert "job_id" not in entry and entry["ts"].endswith("+00:00")


def test_json_lines_carry_the_job_id_and_the_exception():
    token = job_id_var.set("job-1")
    try:
        try:
            raise ValueError("boom")
        except ValueError:
            import sys
            record = _record("job crashed")
            record.exc_info = sys.exc_info()
            entry = json.loads(JsonFormatter().format(record))
    finally:
        job_id_var.reset(token)
    assert entry["job_id"] == "job-1" and "ValueError: boom" in entry["exception"]
    assert "request_id" not in entry


def test_text_lines_name_the_ids_only_when_there_are_some():
    assert "[" not in TextFormatter().format(_record("plain"))
    token = request_id_var.set("r-9")
    try:
        assert TextFormatter().format(_record("with id")).endswith("[request=r-9]")
    finally:
        request_id_var.reset(token)
