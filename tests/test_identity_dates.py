"""Birth dates as delivered: read back by parts, compared part by part, placeholders found from data."""

from __future__ import annotations

import json

import duckdb
import pytest

from orchestration.identity import model
from orchestration.identity.splink_inputs import named_records
from orchestration.identity.standardise import date_parts_sql, install_macros


@pytest.mark.parametrize(
    ("text", "date_format", "parts"),
    [
        ("1985-02-30", "%Y-%m-%d", (1985, 2, 30)),  # no 30th of February
        ("1985-13-05", "%Y-%m-%d", (1985, 13, 5)),  # month 13
        ("9185-01-00", "%Y-%m-%d", (9185, 1, 0)),  # year and day mistyped
        ("31/02/1985", "%d/%m/%Y", (1985, 2, 31)),
        (" 5/6/1979 ", "%d/%m/%Y", (1979, 6, 5)),
        ("1985-02-30", "%d/%m/%Y", None),  # not the export's format: nothing read
        ("hier", "%Y-%m-%d", None),
        (None, "%Y-%m-%d", None),
    ],
)
def test_date_parts_are_read_as_delivered(text, date_format, parts) -> None:
    con = duckdb.connect()
    sql = date_parts_sql(f"try_strptime($text, '{date_format}')::date", "$text", date_format)
    value = con.execute(f"select {sql}", {"text": text}).fetchall()[0][0]
    assert (None if value is None else (value["y"], value["m"], value["d"])) == parts


def _level(con: duckdb.DuckDBPyConnection, left: str, right: str) -> str:
    """The label of the first birth-date comparison level two YYYYMMDD texts fall in."""
    comparison = model._comparisons()["birth_date"][1].get_comparison("duckdb").as_dict()
    values = {}
    for side, text in (("l", left), ("r", right)):
        values[f"birth_date_{side}"] = text
        values[f"birth_year_{side}"] = int(text[:4])
        values[f"birth_month_{side}"] = int(text[4:6])
        values[f"birth_day_{side}"] = int(text[6:])
    columns = ", ".join(f"${k} as {k}" for k in values)
    for level in comparison["comparison_levels"]:
        condition = level["sql_condition"]
        if condition == "ELSE":
            return level["label_for_charts"]
        if con.execute(f"select ({condition}) from (select {columns})", values).fetchall()[0][0]:
            return level["label_for_charts"]
    raise AssertionError("no level")


@pytest.mark.parametrize(
    ("left", "right", "label"),
    [
        ("19850230", "19850230", "Exact match on birth_date"),  # the same impossible date
        ("19851305", "19850513", "One digit wrong, or day and month swapped"),
        ("19280101", "10280101", "One digit wrong, or day and month swapped"),  # year typo 1028
        ("19850231", "19850230", "One digit wrong, or day and month swapped"),
        ("19850812", "19851112", "Two of day, month and year equal"),  # month typed for another
        ("19850101", "19851231", "Same year"),
        ("19850101", "19620101", "Two of day, month and year equal"),
        ("19850101", "19621231", "All other comparisons"),
    ],
)
def test_birth_dates_compare_by_parts(left: str, right: str, label: str) -> None:
    assert _level(duckdb.connect(), left, right) == label


def test_a_date_many_unrelated_people_share_is_a_placeholder() -> None:
    """01/01/1900 given by 30 people of 30 surnames says nothing; a twin's date given by two
    records of one family still counts."""
    con = duckdb.connect()
    install_macros(con)
    con.execute("create schema identity")
    con.execute(
        """
        create table identity.records as
        select 'crm_contacts:' || i as unique_id, 'crm_contacts' as source_system,
               'ann' as first_name, 'name' || i as last_name, null::varchar as email,
               null::varchar as phone,
               case when i < 30 then 1900 else 1950 + i % 40 end as birth_year,
               case when i < 30 then 1 else 1 + i % 12 end as birth_month,
               case when i < 30 then 1 else 1 + i % 28 end as birth_day,
               null::varchar as postcode, null::varchar as city, null::varchar as street,
               null::varchar as house_number
        from range(200) t(i)
        union all
        select 'crm_contacts:twin' || i, 'crm_contacts', 'bo', 'twin', null, null, 1977, 7, 7, null, null,
               null, null
        from range(2) t(i)
        """
    )
    named_records(con)
    dates = dict(con.execute("select unique_id, birth_date from splink_named").fetchall())
    assert all(dates[f"crm_contacts:{i}"] is None for i in range(30))
    assert dates["crm_contacts:twin0"] == dates["crm_contacts:twin1"] == "19770707"
    assert dates["crm_contacts:31"] is not None
    assert con.execute("select count(*) from splink_placeholder_dates").fetchall()[0][0] == 1


def test_a_model_trained_before_dates_were_compared_by_parts_is_not_used_for_them() -> None:
    """A model saved with the earlier birth-date levels (on calendar dates) lacks today's
    comparison: it is retrained, or used without it, never run with SQL that no longer fits."""
    saved = json.loads(model.MODEL_PATH.read_text(encoding="utf-8"))
    plan = model.ModelPlan({f: 1.0 for f in model.FIELDS}, 0.01)
    assert model.missing_comparisons(saved, plan) == []
    for comparison in saved["comparisons"]:
        if comparison["output_column_name"] == "birth_date":
            comparison["comparison_levels"][4]["sql_condition"] = "year(birth_date_l) = year(birth_date_r)"
    assert model.missing_comparisons(saved, plan) == ["birth_date"]
