"""Training's EM sessions are capped and iterate on agreement patterns (train.fit).

Splink 5 samples an EM block only when given ``max_pairs``; ``record_sample_proportion`` alone
sizes the probe that estimates the block, so the cap ``training.em_max_pairs`` once did nothing.
"""

from __future__ import annotations

import dataclasses

import duckdb

from orchestration.identity import model, train
from orchestration.identity.config import load_identity_settings


class _Training:
    def __init__(self) -> None:
        self.em_calls: list[dict] = []

    def estimate_probability_two_random_records_match(self, rules, recall):
        pass

    def estimate_u_using_random_sampling(self, max_pairs, seed):
        pass

    def estimate_parameters_using_expectation_maximisation(self, rule, **kwargs):
        self.em_calls.append({"rule": rule.get_blocking_rule("duckdb").blocking_rule_sql, **kwargs})


class _Linker:
    def __init__(self) -> None:
        self.training = _Training()


def test_em_capped_by_max_pairs_and_without_term_frequencies():
    con = duckdb.connect()
    # 60 records share an e-mail (1,770 pairs), two pairs share a full name, no phone is shared.
    con.execute(
        f"""
        create temp table {train.RECORDS} as
        select i::varchar as unique_id, 'shared@example.com' as email, i::varchar as phone,
               case when i < 4 then 'anne' else 'first' || i end as first_name,
               case when i < 4 then 'martin' || (i % 2) else 'last' || i end as last_name,
               null::date as birth_date, null::varchar as street, null::varchar as postcode
        from range(60) t(i)
        """
    )
    plan = model.ModelPlan(
        field_share={
            f: 1.0 if f in ("first_name", "last_name", "email", "phone") else 0.0 for f in model.FIELDS
        },
        min_field_share=0.01,
        records=60,
    )
    identity = dataclasses.replace(load_identity_settings(), em_max_pairs=1000)
    linker = _Linker()
    report = train.fit(train.on_duckdb(con), linker, plan, identity, log=lambda _: None)
    calls = {c["rule"]: c for c in linker.training.em_calls}
    email = next(c for rule, c in calls.items() if '"email"' in rule)
    name = next(c for rule, c in calls.items() if '"first_name"' in rule)
    assert email["max_pairs"] == 1000  # 1,770 pairs: sampled
    assert name["max_pairs"] is None  # 2 pairs: every pair
    assert all(c["estimate_without_term_frequencies"] for c in calls.values())
    assert report.em_sessions["phone"] == "skipped: no pairs"
    assert "sampled to about 1,000 pairs" in report.em_sessions["email"]
