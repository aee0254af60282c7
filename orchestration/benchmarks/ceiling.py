"""The label-trained ceiling: our comparisons and blocking, with m, u and the prior taken from the
truth instead of estimated, clustered by plain connected components at 0.5.

What a Fellegi-Sunter model of exactly our comparisons can reach on a labelled set when it knows
the answer: the gap between it and the pipeline is what training and the guards cost or earn; the
gap between it and 1.0 is what the comparisons themselves cannot tell (or the blocking never
compares). Development only: a retailer has no labels.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import duckdb

from orchestration.identity import evaluate, model
from orchestration.identity.config import load_identity_settings
from orchestration.identity.splink_inputs import linker_over, prepare_inputs
from orchestration.identity.standardise import build_identity_records
from orchestration.settings import data_dir_environment, data_folder

THRESHOLD = 0.5


def label_trained_ceiling(data_dir: Path, truth: Path, seed: int = 42) -> dict[str, float]:
    """Pairwise and B-cubed scores of the label-trained model on ``data_dir``'s raw layer (a copy;
    the warehouse is not written)."""
    identity = load_identity_settings()
    with tempfile.TemporaryDirectory() as work, data_dir_environment(data_dir):
        copy = Path(work) / "cdp.duckdb"
        shutil.copy(data_folder(data_dir).warehouse_path, copy)
        con = duckdb.connect(str(copy))
        try:
            build_identity_records(con, identity)
            evaluate.load_truth(con, truth)

            def with_labels(c: duckdb.DuckDBPyConnection, keyed: str) -> None:
                c.execute(
                    f"create or replace temp table {keyed} as select k.*, "
                    f"coalesce(t.person_id, 'unlabelled:' || k.unique_id) as person_id "
                    f"from {keyed} k left join _truth t using (unique_id)"
                )

            con.execute("create schema if not exists ceiling_work")
            inputs = prepare_inputs(con, identity, lambda _: None, "ceiling_work", with_labels)
            linker = linker_over(inputs.tables, model.settings(inputs.plan))
            linker.training.estimate_u_using_random_sampling(max_pairs=identity.u_max_pairs, seed=seed)
            linker.training.estimate_m_from_label_column("person_id")
            records, true_pairs = con.execute(
                "select count(*), (select sum(n * (n - 1) / 2) from (select count(*) n from splink_keyed "
                "group by person_id)) from splink_keyed"
            ).fetchall()[0]
            saved = linker.misc.save_model_to_json()
            saved["probability_two_random_records_match"] = float(true_pairs) / (records * (records - 1) / 2)
            linker = linker_over(inputs.tables, saved)
            predictions = linker.inference.predict(threshold_match_probability=THRESHOLD)
            clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
                predictions, threshold_match_probability=THRESHOLD
            )
            scores = evaluate.score(con, f"(select unique_id, cluster_id from {clusters.physical_name})")
        finally:
            con.close()
    return scores.as_dict()
