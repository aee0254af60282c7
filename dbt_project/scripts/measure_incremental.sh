#!/usr/bin/env bash
# Time an incremental dbt build after one day of new files against a full rebuild of the same
# warehouse (docs/dbt.md, "Incremental models"). Not a test: a measurement, run by hand.
#
#   dbt_project/scripts/measure_incremental.sh DIR [CUSTOMERS] [REPEATS]
#
# 1. generates CUSTOMERS (100,000) customers whose last 30 days are one file per day, into
#    DIR/landing (kept if it is already there), and holds back the last day's files;
# 2. loads the rest and resolves identity (the pipeline's raw and identity assets), then builds
#    the dbt project from scratch: the state after yesterday's run;
# 3. the last day's files land; raw and identity take them (same assets);
# 4. REPEATS (3) times, alternately, on fresh copies of that warehouse: `dbt build` (incremental)
#    and `dbt build --full-refresh`; prints each wall time, then checks that the incremental models
#    of the last pair are equal row for row.
#
# dbt runs as the pipeline runs it (`dbt build --exclude-resource-type unit_test`); raw and
# identity are outside the timings.
set -euo pipefail

DIR=$(realpath -m "$1")
CUSTOMERS=${2:-100000}
REPEATS=${3:-3}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$REPO/.venv/bin
LAST_DAY=2026-10-31  # the generator's default end date

if [ ! -d "$DIR/landing" ]; then
    "$BIN/cdp" generate --customers "$CUSTOMERS" --daily-days 30 --out "$DIR/landing"
fi
mkdir -p "$DIR/held_back"
(cd "$DIR/landing" && find . -name "*_${LAST_DAY}.*" -exec cp --parents {} "$DIR/held_back/" \; -delete)

raw_and_identity() {
    CDP_DATA_DIR=$1 CDP_LANDING_SETTLE_SECONDS=0 "$BIN/python" - <<'EOF'
import dagster as dg

from orchestration.definitions import build_definitions
from orchestration.settings import SOURCES

defs = build_definitions()
selection = dg.AssetSelection.groups(*SOURCES, "landing", "identity").resolve(defs.resolve_asset_graph())
# A failing data check (e.g. a cluster above the cap at 100k) does not stop the measurement.
defs.resolve_job_def("full_pipeline").execute_in_process(
    instance=dg.DagsterInstance.ephemeral(), asset_selection=list(selection), raise_on_error=False
)
EOF
}

dbt_build() {  # data dir, then dbt arguments; prints the wall time in seconds
    local start end
    start=$(date +%s.%N)
    (cd "$REPO/dbt_project" && CDP_DATA_DIR=$1 "$BIN/dbt" build --exclude-resource-type unit_test \
        --target-path "$1/target" --log-path "$1/target" "${@:2}" > "$1/dbt.log" 2>&1) || true
    end=$(date +%s.%N)
    echo "$end - $start" | bc
}

echo "== yesterday: raw, identity and a full dbt build"
raw_and_identity "$DIR" > "$DIR/yesterday.log" 2>&1
echo "   dbt build from scratch: $(dbt_build "$DIR") s"
echo "== today: the last day's files land; raw and identity"
cp -r "$DIR/held_back/." "$DIR/landing/"
raw_and_identity "$DIR" > "$DIR/today.log" 2>&1
cp "$DIR/warehouse/cdp.duckdb" "$DIR/today.duckdb"

for i in $(seq "$REPEATS"); do
    for mode in incremental full; do
        run=$DIR/runs/$mode
        rm -rf "$run" && mkdir -p "$run/warehouse" && cp "$DIR/today.duckdb" "$run/warehouse/cdp.duckdb"
        if [ $mode = incremental ]; then seconds=$(dbt_build "$run"); else seconds=$(dbt_build "$run" --full-refresh); fi
        echo "   $mode dbt build: $seconds s ($(tail -1 "$run/dbt.log" | sed 's/.*Done\. //'))"
    done
done

"$BIN/python" - "$DIR/runs/incremental/warehouse/cdp.duckdb" "$DIR/runs/full/warehouse/cdp.duckdb" <<'EOF'
import sys

import duckdb

con = duckdb.connect()
con.execute(f"attach '{sys.argv[1]}' as incremental (read_only); attach '{sys.argv[2]}' as rebuilt (read_only)")
for model in (
    "intermediate.int_orders_unioned", "intermediate.int_order_lines_unioned",
    "intermediate.int_web_sessions_aggregated", "marts.fct_orders", "marts.fct_order_lines",
    "marts.fct_web_sessions", "marts.fct_touchpoints",
):
    differ = con.execute(
        f"select (select count(*) from (from incremental.{model} except all from rebuilt.{model}))"
        f" + (select count(*) from (from rebuilt.{model} except all from incremental.{model}))"
    ).fetchone()[0]
    print(f"   {model}: {'equal' if differ == 0 else f'{differ} rows differ'}")
EOF
