"""A run's fingerprint, to prove that a change of code left its results unchanged.

``python -m orchestration.benchmarks.fingerprint DATA_DIR OUT.json [--against BEFORE.json]``
reads a data folder after ``cdp run`` and writes: the customer id of every source record (count,
customers, an order-independent hash of the pairs), every table ingestion, the identity step and
dbt built (row count and an order-independent content hash), and every asset check's result in the run
history. With ``--against`` it compares with the fingerprint of the same landing files run by the
code before the change, and exits 1 on any difference.

What two runs of the same code on the same files differ in is left out, measured by running the
same code twice: load, run and resolution times and run ids; Splink's match weights, whose last
digits vary with training (the pairs scored are compared, not their weights); the identity code's
own digest. Doubles elsewhere are rounded to 4 decimals. A table renamed by the change is
compared under its new name (``--renamed old=new``, schema-qualified).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import dagster as dg

from orchestration.runtime.instance import ensure_instance
from orchestration.settings import get_settings
from orchestration.warehouse import connect

BUILT_SCHEMAS = ("raw", "raw_current", "identity", "staging", "intermediate", "marts", "reference")
VOLATILE = {
    "loaded_at", "_loaded_at", "run_id", "changed_at", "flagged_at", "resolved_at",
    "full_resolved_at", "model_digest", "quarantined_at", "code_version",
}  # fmt: skip
VOLATILE_IN = {"identity.customer_registry": {"created_at"}}


def _table_fingerprint(con: Any, schema: str, name: str) -> dict[str, Any]:
    columns = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, name],
    ).fetchall()
    skip = VOLATILE | VOLATILE_IN.get(f"{schema}.{name}", set())
    kept = [(c, t) for c, t in columns if c not in skip]
    if name == "scored_edges":  # the pairs, not Splink's weights (see the module docstring)
        kept = [(c, t) for c, t in kept if t != "DOUBLE"]
    kept.sort()  # by name: Splink writes its columns in an order that varies between runs
    values = ", ".join(f'round("{c}", 4)' if t in ("DOUBLE", "FLOAT") else f'"{c}"' for c, t in kept)
    rows, digest = con.execute(
        f'select count(*), coalesce(sum(hash(row({values}))::hugeint), 0)::varchar from {schema}."{name}"'
    ).fetchall()[0]
    return {"rows": rows, "hash": digest, "hashed": [c for c, _ in kept]}


def _checks(data_dir: Path) -> dict[str, list]:
    """The last result of every asset check in the data folder's run history."""
    # As `cdp run` opens it: the instance's dagster.yaml is rewritten for this version of the code.
    instance = ensure_instance(get_settings().in_folder(data_dir))
    results: dict[str, list] = {}
    for run in sorted(instance.get_runs(), key=lambda r: r.run_id):
        for record in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
            check = record.dagster_event.event_specific_data
            key = f"{check.asset_key.to_user_string()}:{check.check_name}"
            results[key] = [check.passed, str(check.severity)]
    return dict(sorted(results.items()))


def fingerprint(data_dir: Path) -> dict[str, Any]:
    """The fingerprint of the run(s) recorded in ``data_dir`` (see the module docstring)."""
    con = connect(data_dir / "warehouse" / "cdp.duckdb", read_only=True)
    try:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            f"where table_schema in ({', '.join('?' for _ in BUILT_SCHEMAS)}) order by 1, 2",
            list(BUILT_SCHEMAS),
        ).fetchall()
        ids = con.execute(
            "select count(*), count(distinct customer_id), "
            "sum(hash(source_system, source_record_id, customer_id)::hugeint)::varchar "
            "from identity.customer_source_records"
        ).fetchall()[0]
        found = {f"{s}.{n}": _table_fingerprint(con, s, n) for s, n in tables}
    finally:
        con.close()
    return {"ids": list(ids), "tables": found, "checks": _checks(data_dir)}


def compare(before: dict[str, Any], after: dict[str, Any], renamed: dict[str, str]) -> list[str]:
    """Every difference between two fingerprints, as lines for people; empty when none."""
    differences = []
    if before["ids"] != after["ids"]:
        differences.append(f"customer ids: {before['ids']} before, {after['ids']} after")
    old_tables = {renamed.get(k, k): v for k, v in before["tables"].items()}
    for table in sorted(old_tables.keys() | after["tables"].keys()):
        was, now = old_tables.get(table), after["tables"].get(table)
        if was is None or now is None:
            differences.append(f"{table}: only {'after' if was is None else 'before'}")
        elif (was["rows"], was["hash"]) != (now["rows"], now["hash"]):
            differences.append(f"{table}: {was['rows']} rows before, {now['rows']} after, content differs")
    short = {old.split(".")[1]: new.split(".")[1] for old, new in renamed.items()}

    def new_name(check: str) -> str:
        asset, _, name = check.partition(":")
        for old, new in short.items():
            if asset == f"marts/{old}":
                return f"marts/{new}:{name.replace(old, new)}"
        return check

    old_checks = {new_name(k): v for k, v in before["checks"].items()}
    for check in sorted(old_checks.keys() | after["checks"].keys()):
        if old_checks.get(check) != after["checks"].get(check):
            differences.append(
                f"check {check}: {old_checks.get(check)} before, {after['checks'].get(check)} after"
            )
    return differences


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--against", type=Path, help="fingerprint of the run before the change")
    parser.add_argument("--renamed", action="append", default=[], help="schema.old=schema.new")
    args = parser.parse_args(argv)
    found = fingerprint(args.data_dir.resolve())
    args.out.write_text(json.dumps(found, indent=1, sort_keys=True))
    failed = sum(not passed for passed, _ in found["checks"].values())
    print(
        f"{found['ids'][0]:,} records, {found['ids'][1]:,} customers; {len(found['tables'])} tables; "
        f"{len(found['checks'])} checks, {failed} failed: {args.out}"
    )
    if not args.against:
        return 0
    renamed = dict(pair.split("=", 1) for pair in args.renamed)
    differences = compare(json.loads(args.against.read_text()), found, renamed)
    for line in differences:
        print(line)
    print(f"{len(differences)} difference(s) with {args.against}")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
