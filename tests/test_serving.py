"""Serving: the published marts (complete, pseudonymous, readable during a run) and the KPI report."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC
from html import escape
from pathlib import Path

import duckdb
import pytest
import sqlalchemy

from orchestration.lib.dbt import ensure_manifest
from orchestration.serving.charts import GREY
from orchestration.serving.publish import marts_from_manifest, publish_marts
from orchestration.serving.report import verbatim_themes, write_report
from orchestration.settings import REPO_ROOT, Settings
from tests.conftest import CHROMIUM, FRESH_AS_OF, offline_page, query

# Where the report test leaves its screenshot for people to look at (git-ignored).
ARTIFACTS = Path(os.environ.get("CDP_TEST_ARTIFACTS", REPO_ROOT / "test-artifacts"))
REPORT_CHARTS = {
    "Omnichannel and multichannel rates",
    "Customer value by number of purchase channels",
    "12-month retention, omnichannel vs single-channel",
    "NPS by touchpoint (points)",
    "CSAT by touchpoint (% satisfied)",
    "Customer effort (CES) by touchpoint",
    "Irritants and delights in verbatims",
    "Channel transitions",
    "Click & collect pickup delay",
    "Match confidence of probabilistic links",
    "Records per customer",
}


def _both(settings: Settings) -> duckdb.DuckDBPyConnection:
    """One connection on the warehouse (``wh``) and the published file (``pub``), both read-only."""
    con = duckdb.connect()
    con.execute(f"attach '{settings.warehouse_path}' as wh (read_only)")
    con.execute(f"attach '{settings.serving_dir / 'marts.duckdb'}' as pub (read_only)")
    return con


def _names(con: duckdb.DuckDBPyConnection, sql: str) -> set[str]:
    return {r[0] for r in con.execute(sql).fetchall()}


def test_published_file_and_parquet_hold_every_mart_and_only_the_marts(pipeline: tuple) -> None:
    settings, result = pipeline
    assert result.success
    con = _both(settings)
    marts = _names(
        con, "select table_name from duckdb_tables() where database_name = 'wh' and schema_name = 'marts'"
    )
    published = _names(con, "select table_name from duckdb_tables() where database_name = 'pub'")
    tables = marts_from_manifest(ensure_manifest())
    assert {m.name for m in tables if m.schema == "marts"} == marts
    # The vocabularies (seeds with labels) come along, so BI tools can show words for codes.
    vocabularies = {m.name for m in tables if m.schema == "reference"}
    assert vocabularies == {
        "channels", "survey_touchpoints", "customer_segments", "verbatim_themes", "payment_methods",
        "order_types", "loyalty_tiers", "fulfilment_methods", "contact_channels", "lifecycle_stages",
        "ticket_statuses", "ticket_resolutions", "ticket_categories", "devices",
        "cross_channel_directions", "rfm_segments", "purchase_segments", "match_methods",
        "drop_off_points", "journey_units",
    }  # fmt: skip
    assert published == marts | vocabularies | {"_publication"}
    parquet = settings.serving_dir / "parquet"
    assert {p.stem for p in parquet.glob("*.parquet")} == marts | vocabularies
    for table in tables:
        mart = table.name
        in_warehouse = con.execute(f"select count(*) from wh.{table.schema}.{mart}").fetchall()[0][0]
        assert con.execute(f"select count(*) from pub.{mart}").fetchall()[0][0] == in_warehouse, mart
        assert (
            con.execute(f"select count(*) from '{parquet / mart}.parquet'").fetchall()[0][0] == in_warehouse
        )
    run_ids = con.execute("select distinct run_id from pub._publication").fetchall()
    assert run_ids == [(result.run_id,)]
    # Nothing half-written is left behind, and descriptions came along for BI tools.
    assert not [p.name for p in settings.serving_dir.rglob("*.tmp")]
    comment = con.execute(
        "select comment from duckdb_tables() where database_name = 'pub' and table_name = 'mart_retention'"
    ).fetchall()[0][0]
    assert comment and "retention" in comment.lower()
    con.close()


def test_report_counts_each_verbatim_mention_once(pipeline: tuple) -> None:
    """The irritants and delights chart reads one grain: per theme, its positive and negative
    mentions are the sums over the finest grain (period, touchpoint, theme) and a recount of the
    themes found in the answers. (Summed over a mart that stacked four grains, it once showed each
    mention four times.)"""
    settings, _ = pipeline
    con = _both(settings)
    con.execute("use pub")
    shown = {label: (positive, negative) for label, positive, negative, _ in verbatim_themes(con)}
    finest = {
        label: (positive, negative)
        for label, positive, negative in con.execute(
            "select theme_label, sum(positive_mentions), sum(negative_mentions)"
            " from pub.mart_verbatim_themes_by_period_and_touchpoint group by 1"
        ).fetchall()
    }
    recount = {
        label: (positive, negative)
        for label, positive, negative in con.execute(
            """
            select themes.label_en,
                   count(*) filter (where mentions.sentiment = 'positive'),
                   count(*) filter (where mentions.sentiment = 'negative')
            from wh.intermediate.int_survey_verbatim_themes as mentions
            inner join wh.marts.fct_survey_responses as responses using (response_id)
            inner join wh.reference.verbatim_themes as themes using (theme)
            group by 1
            """
        ).fetchall()
    }
    con.close()
    assert sum(negative for _, negative in shown.values()) > 0
    assert shown == finest == recount


def test_report_names_channels_touchpoints_and_segments_in_words_from_the_seeds(pipeline: tuple) -> None:
    """A reader sees "Click & collect pickup", not ``click_and_collect_pickup``: every code the
    report shows comes with its label from the published seeds (edit the CSV, not Python)."""
    settings, _ = pipeline
    html = (settings.serving_dir / "report" / "index.html").read_text(encoding="utf-8")
    con = _both(settings)
    channels = con.execute(
        "select channel, label from pub.channels where channel in "
        "(select from_channel from pub.mart_channel_transitions)"
    ).fetchall()
    touchpoints = con.execute(
        "select touchpoint, label from pub.survey_touchpoints where touchpoint in "
        "(select segment from pub.mart_satisfaction where level = 'touchpoint')"
    ).fetchall()
    con.close()
    transitions = html[html.index("<h3>Channel transitions</h3>") :].split("</figure>")[0]
    assert len(channels) >= 3 and len(touchpoints) >= 3
    for code, label in channels:
        assert escape(label) in transitions and f">{code}<" not in transitions, code
    for code, label in touchpoints:
        assert escape(label) in html and code not in html, code


def _figure_html(html: str, title: str) -> str:
    return html[html.index(f"<h3>{escape(title)}</h3>") :].split("</figure>")[0]


def test_report_scores_have_one_unit_per_axis_and_no_empty_bars(pipeline: tuple) -> None:
    """NPS (points) and CSAT (%) are separate charts, each axis tick written in its unit; a
    touchpoint whose survey does not ask a score has no bar in that chart and the caption names
    it. (NPS and CSAT once shared an axis, with an empty slot for the service survey's NPS.)"""
    settings, _ = pipeline
    html = (settings.serving_dir / "report" / "index.html").read_text(encoding="utf-8")
    scores = query(
        settings,
        "select t.label_en, s.nps, s.csat, s.ces_mean from marts.mart_satisfaction as s "
        "inner join reference.survey_touchpoints as t on t.touchpoint = s.segment "
        "where s.level = 'touchpoint' order by s.responses desc",
    )
    charts = {
        "NPS by touchpoint (points)": (1, " pts<"),
        "CSAT by touchpoint (% satisfied)": (2, " %<"),
        "Customer effort (CES) by touchpoint": (3, None),
    }
    for title, (index, unit) in charts.items():
        figure = _figure_html(html, title)
        asked = [r[0] for r in scores if r[index] is not None]
        not_asked = [r[0] for r in scores if r[index] is None]
        assert asked, title
        assert figure.count('<rect class="mark"') == len(asked), title
        for label in asked:
            assert f"· {escape(label)}:" in figure, (title, label)
        if not_asked:
            assert "Not asked by the survey of: " + escape(", ".join(not_asked)) in figure, title
        if unit:
            ticks = re.findall(r'text-anchor="end">([^<]*<)', figure)
            assert ticks and all(t.endswith(unit) for t in ticks), (title, ticks)
    # The test data ask CES of two touchpoints only: the note is exercised.
    assert any(r[3] is None for r in scores)


def test_report_headline_states_the_period_and_the_as_of_instant(pipeline: tuple) -> None:
    settings, _ = pipeline
    html = (settings.serving_dir / "report" / "index.html").read_text(encoding="utf-8")
    (as_of,), (period,), (first, last) = (
        query(settings, "select max(value_end_at) from marts.mart_clv_window")[0],
        query(
            settings,
            "select strftime(max(period_start), '%Y-%m') from marts.mart_multichannel_customers "
            "where not is_partial_period",
        )[0],
        query(
            settings,
            "select min(submitted_at)::date, max(submitted_at)::date from marts.fct_survey_responses",
        )[0],
    )
    strip = html[html.index('<p class="period">') :].split("</p>")[0]
    assert f"Latest complete period: {period}" in strip
    assert f"data as of {as_of.astimezone(UTC):%Y-%m-%d %H:%M} UTC" in strip
    assert f"answers of {first} to {last}" in strip


def test_labels_follow_the_report_language(pipeline: tuple, tmp_path: Path) -> None:
    """With CDP_REPORT_LANGUAGE=fr the published labels and the report's words for codes are the
    seeds' French ones: a French reader sees "Espèces" for ``especes``, an English one "Cash"."""
    settings, _ = pipeline
    marts = marts_from_manifest(ensure_manifest())
    con = duckdb.connect()  # the warehouse read-only, the published file written beside
    con.execute(f"attach '{settings.warehouse_path}' as wh (read_only)")
    con.execute("use wh")
    try:
        publication = publish_marts(
            con, marts, tmp_path / "marts.duckdb", tmp_path / "parquet",
            salt="s", clear_pii=frozenset(), run_id="fr", language="fr",
        )  # fmt: skip
        expected = dict(
            con.execute("select payment_method, label_fr from reference.payment_methods").fetchall()
        )
        touchpoints = con.execute("select label_fr, label_en from reference.survey_touchpoints").fetchall()
    finally:
        con.close()
    published = duckdb.connect(str(publication.path), read_only=True)
    try:
        labelled = dict(
            published.execute(
                "select distinct payment_method, payment_method_label from fct_orders "
                "where payment_method is not null"
            ).fetchall()
        )
    finally:
        published.close()
    assert labelled and all(labelled[code] == expected[code] for code in labelled)
    report = write_report(publication.path, settings.quality_dir, tmp_path / "report")
    html = report.path.read_text(encoding="utf-8")
    french = [fr for fr, en in touchpoints if fr != en]
    assert french and all(escape(label) in html for label in french)


def test_report_greys_the_rate_tiles_whose_base_is_too_small(pipeline: tuple) -> None:
    """The interval-bearing rates shown as tiles (web-to-store, click & collect, service) are greyed
    exactly when the mart says their base is below min_sample_size."""
    settings, _ = pipeline
    html = (settings.serving_dir / "report" / "index.html").read_text(encoding="utf-8")
    tiles = html[html.index("<h3>Cross-channel, click &amp; collect and service") :].split("</div></div>")[0]
    flags = query(
        settings,
        """
        select * from (
            select cross_channel_rate_is_reliable from marts.mart_cross_channel_purchases
            where period_start = (select max(period_start) from marts.mart_cross_channel_purchases
                                  where not is_partial_period)
        ) union all select unnest([click_and_collect_share_is_reliable, late_pickup_rate_is_reliable]) from (
            select * from marts.mart_click_and_collect where not is_partial_period
            order by period_start desc limit 1
        ) union all
        select unnest([repeat_contact_rate_is_reliable, first_contact_resolution_rate_is_reliable]) from (
            select * from marts.mart_service_contacts where not is_partial_period
            order by period_start desc limit 1
        )
        """,
    )
    assert len(flags) == 6
    assert tiles.count('class="tile greyed"') == sum(not reliable for (reliable,) in flags)
    assert tiles.count('class="tile"') == 2 + sum(reliable for (reliable,) in flags)  # + 2 coverage tiles


def test_no_email_phone_or_street_reaches_bi_only_pseudonymous_keys(pipeline: tuple) -> None:
    settings, _ = pipeline
    con = _both(settings)
    # Every e-mail, phone and street of a person the pipeline knows, as standardised and as typed
    # (stores' own addresses are business data, published in dim_stores).
    con.execute(
        """
        create temp table pii as
        select distinct v from (
            select unnest([email, phone, street, street_as_typed]) as v from wh.identity.records
            union all select unnest([email, phone, street]) from wh.marts.dim_customers
        ) where v is not null and length(v) > 4
          and v not in (select street from wh.marts.dim_stores where street is not null)
        """
    )
    assert con.execute("select count(*) from pii").fetchall()[0][0] > 100
    text_columns = con.execute(
        "select table_name, column_name from duckdb_columns() "
        "where database_name = 'pub' and data_type = 'VARCHAR'"
    ).fetchall()
    leaks = {
        f"{t}.{c}": n
        for t, c in text_columns
        if (
            n := con.execute(f'select count(*) from pub."{t}" where "{c}" in (select v from pii)').fetchall()[
                0
            ][0]
        )
    }
    assert leaks == {}
    columns = _names(
        con,
        "select column_name from duckdb_columns() "
        "where database_name = 'pub' and table_name = 'dim_customers'",
    )
    assert {"email_key", "phone_key", "street_key"} <= columns
    assert not {"email", "phone", "street"} & columns
    # One key per e-mail: BI can still count and join customers by e-mail without seeing it.
    distinct = con.execute(
        """
        select count(distinct w.email), count(distinct p.email_key),
               count(*) filter (where p.email_key is null)
        from wh.marts.dim_customers w join pub.dim_customers p using (customer_id) where w.email is not null
        """
    ).fetchall()[0]
    assert distinct[0] == distinct[1] > 0 and distinct[2] == 0
    con.close()


def test_pii_columns_listed_in_config_are_published_in_clear(pipeline: tuple, tmp_path: Path) -> None:
    settings, _ = pipeline
    con = duckdb.connect()
    con.execute(f"attach '{settings.warehouse_path}' as wh (read_only)")
    con.execute("use wh")
    marts = [m for m in marts_from_manifest(ensure_manifest()) if m.name == "dim_customers"]
    publication = publish_marts(
        con,
        marts,
        tmp_path / "marts.duckdb",
        tmp_path / "parquet",
        salt="s",
        clear_pii=frozenset({"email"}),
        run_id="r",
    )
    con.close()
    hashed = ["first_name", "last_name", "phone", "street", "birth_date"]
    assert publication.pseudonymised == {"dim_customers": hashed}
    check = duckdb.connect(str(publication.path), read_only=True)
    columns = [r[0] for r in check.execute("describe dim_customers").fetchall()]
    assert "email" in columns and "phone_key" in columns and "phone" not in columns
    check.close()


def test_a_bi_reader_holding_the_published_file_does_not_block_a_run(pipeline: tuple, tmp_path: Path) -> None:
    """SQLAlchemy + duckdb-engine (what Superset uses) holds serving/marts.duckdb open read-only
    while `cdp run`, another process, runs the whole pipeline and republishes."""
    settings, _ = pipeline
    data = tmp_path / "cdp"
    for folder in ("landing", "warehouse", "serving"):
        shutil.copytree(settings.data_dir / folder, data / folder)
    new_file = data / "landing" / "survey" / "responses_2026-12.csv"
    new_file.write_text(
        "response_id,survey_id,touchpoint,submitted_at,respondent_email,nps,csat,ces,verbatim,"
        "order_ref,ticket_ref,store_code\n"
        "R_new_after_publication,SV_WEB_PURCHASE,web_purchase,2026-10-30T10:00:00+01:00,,9,5,,,,,\n",
        encoding="utf-8-sig",
    )
    engine = sqlalchemy.create_engine(f"duckdb:///{data / 'serving' / 'marts.duckdb'}?access_mode=read_only")
    count_sql = sqlalchemy.text("select count(*) from fct_survey_responses")
    run_sql = sqlalchemy.text("select max(run_id) from _publication")
    with engine.connect() as reader:
        responses_before, run_before = reader.execute(count_sql).scalar(), reader.execute(run_sql).scalar()
        env = {**os.environ, "CDP_DATA_DIR": str(data), "CDP_QUALITY_AS_OF": FRESH_AS_OF}
        log = tmp_path / "cdp-run.log"
        with log.open("w") as out:
            run = subprocess.Popen(
                [str(Path(sys.executable).parent / "cdp"), "run"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            reads = 0
            while run.poll() is None:
                assert reader.execute(count_sql).scalar() == responses_before  # the old snapshot, intact
                reads += 1
                time.sleep(0.2)
        assert run.returncode == 0, log.read_text()[-4000:]
        assert reads > 20
        assert reader.execute(run_sql).scalar() == run_before  # still the file it opened
    engine.dispose()
    engine = sqlalchemy.create_engine(f"duckdb:///{data / 'serving' / 'marts.duckdb'}?access_mode=read_only")
    with engine.connect() as reader:
        assert reader.execute(run_sql).scalar() != run_before
        assert reader.execute(count_sql).scalar() == responses_before + 1
    engine.dispose()


@pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium not installed (Debian package `chromium`; .ci/run installs it)"
)
def test_kpi_report_renders_every_chart_offline_in_headless_chromium(pipeline: tuple) -> None:
    settings, result = pipeline
    report = settings.serving_dir / "report" / "index.html"
    materialization = result.asset_materializations_for_node("serving__kpi_report")[0]
    assert materialization.metadata["path"].value == str(report)
    with offline_page(report) as (page, errors, requests):
        charts = page.evaluate(
            """() => [...document.querySelectorAll('figure.chart')].map(figure => {
                const svg = figure.querySelector('svg');
                const box = svg.getBoundingClientRect();
                const drawn = [...svg.querySelectorAll('.mark')].filter(mark => {
                    const b = mark.getBBox();
                    return b.width > 0 || b.height > 0;
                });
                return {title: figure.querySelector('h3').textContent, width: box.width,
                        height: box.height, drawn: drawn.length, label: svg.getAttribute('aria-label')};
            })"""
        )
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        screenshot = ARTIFACTS / "kpi-report.png"
        page.screenshot(path=str(screenshot), full_page=True)
    assert {c["title"] for c in charts} == REPORT_CHARTS
    # The test data hold 16 months: no period has the 24 months a 12-month retention needs, and
    # the chart says so instead of drawing left-censored values.
    complete = query(settings, "select count(*) from marts.mart_retention where is_complete_history")[0][0]
    for chart in charts:
        assert chart["width"] > 300 and chart["height"] > 150, chart
        if chart["title"].startswith("12-month retention") and complete == 0:
            assert chart["label"] == "no period with 24 months of history", chart
            continue
        assert chart["drawn"] > 0 and chart["label"] != "no data", chart
    # Survey scores on fewer answers than min_responses are greyed, in the table and the bars.
    unreliable = query(
        settings,
        "select count(*) from marts.mart_satisfaction where level = 'touchpoint' and not is_reliable",
    )[0][0]
    html = report.read_text(encoding="utf-8")
    assert unreliable > 0 and html.count('<tr class="greyed">') == unreliable
    assert f'fill="{GREY}"' in html and "too few answers to read" in html
    assert errors == []
    assert requests == [report.as_uri()]  # nothing fetched: the page is self-contained
    assert screenshot.stat().st_size > 50_000


def test_report_says_the_accuracy_the_identity_step_estimated(pipeline: tuple) -> None:
    """Without a truth file: the estimate the run's identity step made, in words, in the identity
    section of the report."""
    settings, _ = pipeline
    html = (settings.serving_dir / "report" / "index.html").read_text(encoding="utf-8")
    said = json.loads((settings.serving_dir / "identity_accuracy.json").read_text(encoding="utf-8"))
    identity = html[html.index("<h2>Identity resolution</h2>") :]
    assert "Accuracy estimated without a truth file: pairwise recall about " in identity
    assert f"{said['recall']:.4f}" in identity and f"{said['precision']:.4f}" in identity
