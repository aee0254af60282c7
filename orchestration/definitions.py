"""The Dagster code location: gathers each folder's definitions and the shared resources."""

from __future__ import annotations

import dagster as dg

from orchestration.defs import (
    activation,
    automation,
    crm,
    dbt,
    ecommerce,
    identity,
    pos,
    privacy,
    quality,
    serving,
    survey,
)
from orchestration.defs.raw import landing_defs
from orchestration.defs.resources import build_resources
from orchestration.progress import progress_logger


def build_definitions() -> dg.Definitions:
    return dg.Definitions.merge(
        pos.defs,
        ecommerce.defs,
        crm.defs,
        survey.defs,
        landing_defs,
        identity.defs,
        dbt.defs,
        quality.defs,
        serving.defs,
        activation.defs,
        privacy.defs,
        automation.defs,
        dg.Definitions(
            resources=build_resources(),
            executor=dg.in_process_executor,
            loggers={"console": dg.colored_console_logger, "progress": progress_logger},
        ),
    )


defs = build_definitions()
