"""The Dagster code location: gathers each module's definitions and the shared resources."""

from __future__ import annotations

import dagster as dg

from orchestration.defs import (
    activation,
    automation,
    dbt,
    identity,
    privacy,
    quality,
    raw,
    serving,
    steward,
    unload,
)
from orchestration.defs.resources import build_resources
from orchestration.runtime.progress import progress_logger


def build_definitions() -> dg.Definitions:
    return dg.Definitions.merge(
        raw.defs,
        identity.defs,
        dbt.defs,
        quality.defs,
        serving.defs,
        activation.defs,
        privacy.defs,
        steward.defs,
        automation.defs,
        unload.defs,
        dg.Definitions(
            resources=build_resources(),
            executor=dg.in_process_executor,
            loggers={"console": dg.colored_console_logger, "progress": progress_logger},
        ),
    )


defs = build_definitions()
