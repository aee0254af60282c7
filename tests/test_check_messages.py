"""A failed check reads as what went wrong, where (file and line), which value, and what to do.

Real Great Expectations on a hand-made DuckDB table: a raw table with lineage (``_source_file``,
``_source_line``) as the loader writes it, and the identity suite as a run builds it.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import duckdb
import great_expectations.expectations as gxe
import pytest

from orchestration.quality.gx import Check, Suite, gx_context, validate
from orchestration.quality.messages import text_of
from orchestration.quality.report import write_results
from orchestration.quality.suites import PHONE, build_suites
from orchestration.settings import get_quality_settings


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema raw")
    con.execute(
        """
        create table raw.crm_contacts as select * from (values
            ('C1', '2026-01-02', '+33 6 12 34 56 78', 'crm/contacts_2026-11-01.csv', 2),
            ('C2', null, '06 12', 'crm/contacts_2026-11-01.csv', 3),
            ('C3', '2026-01-03', '+33 6 98 76 54 32', 'crm/contacts_2026-11-01.csv', 4)
        ) as t(contact_id, created_at, phone, _source_file, _source_line)
        """
    )
    yield con
    con.close()


def raw_suite() -> Suite:
    return Suite(
        ("raw", "crm_contacts"),
        "select *, regexp_full_match(regexp_replace(phone, '[\\s.()-]', '', 'g'), "
        f"'{PHONE}') as phone__well_formed from raw.crm_contacts",
        (
            Check(
                "created_at_not_null",
                gxe.ExpectColumnValuesToNotBeNull(
                    column="created_at", severity="critical", description="created_at is present"
                ),
            ),
            Check(
                "phone_format",
                gxe.ExpectColumnValuesToBeInSet(
                    column="phone__well_formed",
                    value_set=[True],
                    mostly=0.9,
                    severity="warning",
                    description="phone well formed in at least 90% of the rows that have one",
                ),
            ),
        ),
    )


def test_a_failed_raw_check_names_the_missing_value_its_file_and_line_and_what_to_do(con) -> None:
    outcomes, _ = validate(con, raw_suite())
    by_name = {o.check.name: o for o in outcomes}
    assert by_name["created_at_not_null"].reason == (
        "raw.crm_contacts: created_at is missing in 1 row (33.33 %); "
        "e.g. (empty) at landing/crm/contacts_2026-11-01.csv line 3; "
        "to do: correct these rows in the source export and deliver the file again; "
        "nothing downstream of this table ran (docs/operations.md)"
    )
    # The value that failed, not the predicate's False, and where it was delivered.
    assert by_name["phone_format"].reason == (
        "raw.crm_contacts: phone is malformed in 1 row (33.33 %); "
        'e.g. "06 12" at landing/crm/contacts_2026-11-01.csv line 3; '
        "to do: correct these values in the source system; the run went on (a warning)"
    )


def test_a_failed_identity_check_names_the_customer_in_words_not_a_python_dict(tmp_path: Path) -> None:
    con = duckdb.connect()
    con.execute("create schema identity")
    con.execute(
        """
        create table identity.customer_source_records as
        select 'r:' || i as unique_id, 'deterministic' as match_method,
               case when i < 80 then 'C_CARD' else 'C' || i end as customer_id,
               i < 80 as in_flagged_cluster
        from range(100) as t(i)
        """
    )
    con.execute("create table identity.records as select unique_id from identity.customer_source_records")
    suite = next(
        s
        for s in build_suites(get_quality_settings())
        if s.asset_key == ("identity", "customer_source_records")
    )
    outcomes, gx_result = validate(con, suite)
    (flagged,) = [o for o in outcomes if o.check.name == "no_flagged_cluster"]
    assert not flagged.success
    assert flagged.reason.startswith('identity.customer_source_records: "no cluster above ')
    assert flagged.reason.endswith(
        ' does not hold in 1 row; e.g. customer_id "C_CARD", records 80; '
        "to do: the run went on; look at the rows named here (docs/quality.md)"
    )
    assert "{" not in flagged.reason and "[" not in flagged.reason.split("does not hold")[1]
    # The quality report (and the KPI report, which reads its results) shows the same words.
    page = write_results(tmp_path, suite, outcomes, gx_result).read_text(encoding="utf-8")
    assert html.escape('customer_id "C_CARD", records 80') in page
    assert not re.search(r"\{'|\['|&#x27;: ", page), "a Python repr in the HTML report"


def test_values_are_written_as_text() -> None:
    assert text_of(None) == "(empty)"
    assert text_of({"customer_id": "C1", "records": 65}) == 'customer_id "C1", records 65'
    assert text_of(["a", None]) == '"a"; (empty)'


def test_suites_sharing_one_gx_context_report_what_each_reports_alone(con) -> None:
    """A check step validates all its suites through one GX context: a failing suite and a
    passing one say exactly what they say when each has its own context."""
    con.execute("create table raw.crm_ok as select * from raw.crm_contacts where created_at is not null")

    def suites() -> list[Suite]:
        """Fresh ones each time: GX gives an expectation an id when a context first adds it."""
        failing = raw_suite()
        query = failing.query.replace("raw.crm_contacts", "raw.crm_ok")
        return [failing, Suite(("raw", "crm_ok"), query, raw_suite().checks)]

    alone = [[(o.success, o.reason) for o in validate(con, s)[0]] for s in suites()]
    with gx_context(con) as shared:
        together = [[(o.success, o.reason) for o in validate(con, s, shared)[0]] for s in suites()]
    assert together == alone
    assert [ok for ok, _ in together[0]] == [False, False]
    assert [ok for ok, _ in together[1]] == [True, True]
