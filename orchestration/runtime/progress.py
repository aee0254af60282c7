"""A quiet console logger for ``cdp run``: one line per step, check and warning, not Dagster's debug."""

from __future__ import annotations

import logging
import re
import time

import dagster as dg
from dagster._core.log_manager import get_log_record_metadata, has_log_record_metadata
from dagster._utils.error import SerializableErrorInfo

from orchestration.runtime.run_log import console

SHOWN_EVENTS = {
    "STEP_SUCCESS": "✔",
    "STEP_FAILURE": "✘",
    "ASSET_CHECK_EVALUATION": "check",
    "RUN_SUCCESS": "✔",
    "RUN_FAILURE": "✘",
}


# Raised in every step downstream of a failed blocking check; its message lists the checks by op
# name, one per line. The checks themselves are already printed, one line each.
CHECK_STOPPED = "DagsterAssetCheckFailedError"


def root_cause(error: SerializableErrorInfo | None) -> str:
    """The innermost exception of a step failure, as ``Class: first line of the message``.

    Dagster wraps what an asset raised in "Error occurred while executing op …"; the cause a user
    can act on (Splink's, DuckDB's, ours) is at the bottom of the ``cause`` / ``context`` chain.
    Its class is named once, without its module path; a message of several lines (a list of op
    names, a traceback) is cut to its first.
    """
    if error is None:
        return "unknown error"
    while error.cause is not None or error.context is not None:
        error = error.cause or error.context
    cls = error.cls_name or ""
    message = error.message.strip()
    # SerializableErrorInfo.message often starts with the class, sometimes with its module path too.
    head, _, rest = message.partition(": ")
    if cls and head.split(".")[-1] == cls:
        message = rest
    first = message.splitlines()[0].strip() if message else ""
    return f"{cls}: {first}" if cls else first


def stopped_by_check(error: SerializableErrorInfo | None) -> bool:
    """True when a step failed only because a blocking check upstream failed (listed already)."""
    while error is not None:
        if error.cls_name == CHECK_STOPPED:
            return True
        error = error.cause or error.context
    return False


# Dagster's note for checks a step did not report lists every one of them: a day's dbt build leaves
# the seeds' own tests out (about a hundred), which would fill the screen with their names.
NOT_REPORTED = re.compile(r"did not yield or return expected outputs \{(?P<names>.*)\}\.?$", re.DOTALL)


def _shortened(message: str) -> str:
    """Dagster's message, with a list of unreported checks shortened to its count."""
    found = NOT_REPORTED.search(message)
    if found is None:
        return message
    count = found.group("names").count(",") + 1
    return f"{count} check(s) not evaluated in this run (their dbt tests were not selected)"


class ProgressFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self.started = time.monotonic()

    def format(self, record: logging.LogRecord) -> str:
        elapsed = f"[{time.monotonic() - self.started:7.1f}s]"
        meta = get_log_record_metadata(record) if has_log_record_metadata(record) else None
        if meta is None:
            return f"{elapsed} {record.getMessage()}"
        event = meta["dagster_event"]
        step = meta["step_key"] or meta["job_name"] or ""
        if event is None:
            return f"{elapsed}   {step}: {_shortened(meta['orig_message'])}"
        kind = event.event_type_value
        if kind == "ASSET_CHECK_EVALUATION":
            data = event.asset_check_evaluation_data
            verdict = "passed" if data.passed else f"FAILED ({data.severity.value})"
            return f"{elapsed}   check {data.asset_key.to_user_string()}:{data.check_name} {verdict}"
        if kind == "STEP_SUCCESS":
            duration = event.step_success_data.duration_ms / 1000
            return f"{elapsed} ✔ {step} ({duration:.1f} s)"
        if kind == "STEP_FAILURE":
            error = event.step_failure_data.error
            if stopped_by_check(error):
                return f"{elapsed} ✘ {step} stopped: a critical check failed"
            return f"{elapsed} ✘ {step} failed: {root_cause(error)}"
        return f"{elapsed} {SHOWN_EVENTS[kind]} {step} {event.message or ''}".rstrip()


class ProgressFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not has_log_record_metadata(record):
            return record.levelno >= logging.INFO
        event = get_log_record_metadata(record)["dagster_event"]
        if event is None:
            return record.levelno >= logging.INFO
        return event.event_type_value in SHOWN_EVENTS


@dg.logger(description="One line per step and check, for the terminal (used by `cdp run`).")
def progress_logger(_init_context: dg.InitLoggerContext) -> logging.Logger:
    logger = logging.Logger("cdp.progress", level=logging.DEBUG)
    handler = logging.StreamHandler(console())  # not the run's log file that stdout is during a run
    handler.setFormatter(ProgressFormatter())
    handler.addFilter(ProgressFilter())
    logger.addHandler(handler)
    return logger
