"""What Dagster's bookkeeping of a run costs: the time spent storing its events.

``CDP_DATA_DIR=<data dir, after cdp run> python -m orchestration.benchmarks.event_log [--instance ephemeral]``

Runs ``full_pipeline`` in-process with a full identity re-resolution (so every step does its work,
whatever the previous run left) and times ``DagsterInstance.handle_new_event``, through which
every event of the run passes (step starts and outputs, materializations, each check evaluation,
log lines), against the run's wall time:

- ``local``: the instance of ``CDP_DATA_DIR/dagster`` (``orchestration.runtime.instance``: SQLite files,
  ``LocalEventLogStorage``), what ``cdp run`` and the UI use;
- ``ephemeral``: an in-memory instance, the floor of that bookkeeping.

The warehouse is rewritten by the run: use a copy. Prints one line.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import dagster as dg
from dagster._core.instance import DagsterInstance

from orchestration.runtime.instance import ensure_instance
from orchestration.settings import get_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instance", choices=("local", "ephemeral"), default="local")
    kind = parser.parse_args().instance
    spent, events = 0.0, 0
    handle = DagsterInstance.handle_new_event

    def timed(self: DagsterInstance, *args: Any, **kwargs: Any) -> Any:
        nonlocal spent, events
        started = time.perf_counter()
        try:
            return handle(self, *args, **kwargs)
        finally:
            spent += time.perf_counter() - started
            events += 1

    DagsterInstance.handle_new_event = timed  # type: ignore[method-assign]
    # Loading the definitions takes seconds (every asset, the dbt project) and builds their resources
    # from the settings: done once the arguments are read (--help answers at once).
    from orchestration.definitions import defs

    instance = dg.DagsterInstance.ephemeral() if kind == "ephemeral" else ensure_instance(get_settings())
    started = time.perf_counter()
    result = defs.resolve_job_def("full_pipeline").execute_in_process(
        instance=instance,
        raise_on_error=False,
        run_config={"ops": {"identity_resolution": {"config": {"full_identity": True}}}},
    )
    wall = time.perf_counter() - started
    print(
        f"{kind}: run {'succeeded' if result.success else 'FAILED'} in {wall:.1f} s; "
        f"{events:,} events stored in {spent:.1f} s ({spent / wall:.0%} of the run)"
    )


if __name__ == "__main__":
    main()
