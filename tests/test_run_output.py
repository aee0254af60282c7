"""What ``cdp run`` prints: a step's cause once and on one line; libraries' warnings and dbt's log
in the run's log file, the progress lines on the console."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from dagster._utils.error import SerializableErrorInfo

from orchestration.runtime.progress import progress_logger, root_cause, stopped_by_check
from orchestration.runtime.run_log import console, run_log_path, third_party_output_to


def error(cls: str, message: str, cause: SerializableErrorInfo | None = None) -> SerializableErrorInfo:
    return SerializableErrorInfo(message=message, stack=[], cls_name=cls, cause=cause)


def test_a_blocked_step_names_its_cause_once_on_one_line() -> None:
    checks = error(
        "DagsterAssetCheckFailedError",
        "dagster._core.errors.DagsterAssetCheckFailedError: 3 blocking asset checks failed with ERROR "
        "severity:\nraw/survey_responses: nps_in_range,key_unique_per_file\n['cdp_dbt_models', 'x']\n",
    )
    wrapped = error("DagsterExecutionStepExecutionError", "Error occurred while executing op", checks)
    assert root_cause(wrapped) == (
        "DagsterAssetCheckFailedError: 3 blocking asset checks failed with ERROR severity:"
    )
    assert stopped_by_check(wrapped)
    config = error("IdentityConfigError", "identity.yml: matching.match_probabilty: unknown key")
    assert root_cause(config) == "IdentityConfigError: identity.yml: matching.match_probabilty: unknown key"
    assert not stopped_by_check(config)


def test_library_warnings_go_to_the_run_log_not_the_console(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = run_log_path(tmp_path, "r1")
    with third_party_output_to(path):
        logging.getLogger("splink.internals.linker").warning("You have called predict(), but there are no …")
        warnings.warn("max_pairs is deprecated", DeprecationWarning, stacklevel=1)
        print("12 of 413 PASS not_null_dim_customers_customer_id")  # dagster-dbt copies dbt's log so
        console().write("[   3.0s] ✔ raw__crm_contacts (1.2 s)\n")  # the progress lines stay
    logging.getLogger("splink.internals.linker").warning("after the run")  # back to Python's default
    console_output = capsys.readouterr()
    shown = console_output.out + console_output.err
    assert "predict()" not in shown and "max_pairs" not in shown and "413 PASS" not in shown
    assert "✔ raw__crm_contacts" in console_output.out
    logged = path.read_text(encoding="utf-8")
    assert "WARNING splink.internals.linker: You have called predict()" in logged
    assert "DeprecationWarning: max_pairs is deprecated" in logged
    assert "12 of 413 PASS not_null_dim_customers_customer_id" in logged
    assert "after the run" not in logged and "raw__crm_contacts" not in logged


def test_checks_a_step_did_not_report_are_counted_not_listed(capsys: pytest.CaptureFixture[str]) -> None:
    """A day's dbt build leaves the seeds' own tests out: Dagster then notes every one of their
    checks by name; the progress line gives their number instead of a hundred names."""
    specs = [dg.AssetCheckSpec(f"left_out_test_{i}", asset="seed_table") for i in range(40)]

    # Subsettable, as dbt's assets are: an output (a check) a run does not report is not an error.
    @dg.multi_asset(specs=[dg.AssetSpec("seed_table")], check_specs=specs, can_subset=True)
    def seed_table() -> Iterator[dg.MaterializeResult]:
        yield dg.MaterializeResult()  # reports none of its 40 checks, as a build that excluded them

    job = dg.define_asset_job("build", [seed_table])
    defs = dg.Definitions(assets=[seed_table], jobs=[job], loggers={"progress": progress_logger})
    result = defs.resolve_job_def("build").execute_in_process(run_config={"loggers": {"progress": {}}})
    assert result.success
    lines = [line for line in capsys.readouterr().out.splitlines() if "seed_table" in line]
    assert any("40 check(s) not evaluated in this run" in line for line in lines), lines
    assert not any("left_out_test_" in line for line in lines)
