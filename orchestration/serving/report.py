"""The KPI report: ``serving/report/index.html``, one self-contained page for people.

It reads only what BI tools read, the published ``serving/marts.duckdb`` (never the warehouse),
plus the data quality results in ``serving/quality/validations/``. Codes are shown as words: the
``<code>_label`` columns the publication joins from the vocabulary seeds, in the language of
``CDP_REPORT_LANGUAGE`` (``publish.py``), so a user renames a channel in one CSV, not here, and a
BI tool shows the same words. One unit per axis: NPS (points) and CSAT (%) are separate charts, and
a touchpoint whose survey does not ask a score is left out of that score's chart, with a note.
Charts are inline SVG (``charts.py``); the page has no script and no external resource, so it
opens offline.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date
from html import escape
from pathlib import Path

import duckdb

from orchestration.lib.atomic import write_text_atomically
from orchestration.quality.report import latest_checks
from orchestration.serving import charts
from orchestration.serving.impact import IMPACT_FILE
from orchestration.serving.kpi_range import read_last
from orchestration.serving.publish import PUBLICATION_TABLE

# Written by the identity step beside the published file (its accuracy estimate, orchestration/
# identity/estimate.py).
ACCURACY_FILE = "identity_accuracy.json"

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1400px; padding: 1.5em;
       color: #222; }
h1 { margin-bottom: 0; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; }
.sub { color: #666; margin-top: .2em; }
.period { font-weight: 600; margin: .6em 0; }
.tiles { display: flex; flex-wrap: wrap; gap: 12px; }
.tile { border: 1px solid #ddd; border-radius: 6px; padding: 8px 14px; min-width: 130px; }
.tile b { display: block; font-size: 22px; }
.tile.greyed b { color: #aaa; }
.grid { display: flex; flex-wrap: wrap; gap: 24px; }
figure.chart { margin: 0; max-width: 640px; }
figure.chart svg { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: 12px; margin-top: 4px; }
table { border-collapse: collapse; }
th, td { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.failed { color: #b5483b; font-weight: 600; }
tr.greyed td { color: #aaa; }
"""


@dataclass(frozen=True)
class Report:
    path: Path
    charts: int
    headline: dict[str, float | int | str | None]


def _period(value: date) -> str:
    return value.strftime("%Y-%m") if value.day == 1 else value.isoformat()


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def _figure(title: str, svg: str, caption: str) -> str:
    return (
        f'<figure class="chart"><h3>{escape(title)}</h3>{svg}'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def _table(
    header: Iterable[str], rows: Iterable[Iterable[object]], greyed: Iterable[bool] | None = None
) -> str:
    """An HTML table; rows flagged in ``greyed`` are shown greyed out (unreliable)."""
    rows = list(rows)
    flags = list(greyed) if greyed is not None else [False] * len(rows)
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        ('<tr class="greyed">' if flag else "<tr>")
        + "".join(
            f'<td class="n">{escape(charts.number(v))}</td>'
            if isinstance(v, int | float) and not isinstance(v, bool)
            else f"<td>{escape('' if v is None else str(v))}</td>"
            for v in row
        )
        + "</tr>"
        for row, flag in zip(rows, flags, strict=True)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _series(rows: list[tuple], key_index: int = 1, value_index: int = 2) -> tuple[list[str], dict[str, list]]:
    """(period, series, value) rows → period labels and one value list per series."""
    periods = sorted({r[0] for r in rows})
    names = sorted({r[key_index] for r in rows})
    lookup = {(r[0], r[key_index]): r[value_index] for r in rows}
    return [_period(p) for p in periods], {n: [lookup.get((p, n)) for p in periods] for n in names}


def _journey_section(con: duckdb.DuckDBPyConnection) -> list[str]:
    # Periods still running at as_of are left out (their counts are not the period's); the
    # trailing omnichannel rate is drawn only where the loaded history covers its window.
    rates = _rows(
        con,
        "select period_start, case when is_complete_window then omnichannel_rate end, multichannel_rate "
        "from mart_multichannel_customers where not is_partial_period order by 1",
    )
    # Value of the next 12 months by the purchase channels of the 12 before (no look-ahead), for
    # every buyer and within each tenure band; a cell on too few buyers is not drawn.
    value = _rows(
        con,
        "select purchase_channel_count, buyers, case when clv_ht_is_reliable then clv_ht end "
        "from mart_value_by_channel_count order by 1",
    )
    by_tenure = _rows(
        con,
        "select 'tenure ' || tenure_band, purchase_channel_count, "
        "case when clv_ht_is_reliable then clv_ht end "
        "from mart_value_by_channel_count_and_tenure order by tenure_band_start_months",
    )
    value_series = {"every buyer (€ HT per buyer)": [r[2] for r in value]}
    for band, count, clv in by_tenure:
        value_series.setdefault(band, [None] * len(value))[[r[0] for r in value].index(count)] = clv
    window = _rows(
        con,
        "select observation_months, value_months, identified_sale_share, identified_revenue_share "
        "from mart_clv_window",
    )[0]
    # Periods whose 24 months are not all loaded count old customers as new and have no 12-month
    # base: they are left out, and the caption says how many; so is a period still running. One
    # line for every customer (mart_retention), one per segment (mart_retention_by_segment), and
    # single-channel repeat buyers: every omnichannel customer has bought twice, so that line,
    # not single-channel as a whole, is what omnichannel compares with.
    retention = _rows(
        con,
        "select period_start, 'every customer', retention_rate_12m from mart_retention "
        "where is_complete_history and not is_partial_period "
        "union all select period_start, segment_label, retention_rate_12m "
        "from mart_retention_by_segment where is_complete_history and not is_partial_period "
        "union all select period_start, segment_label || ' repeat buyers', repeat_buyer_retention_rate_12m "
        "from mart_retention_by_segment "
        "where segment = 'single_channel' and is_complete_history and not is_partial_period "
        "order by 1, 2",
    )
    incomplete = _rows(
        con, "select count(distinct period_start) from mart_retention where not is_complete_history"
    )[0][0]
    periods, retention_series = _series(retention)
    return [
        _figure(
            "Omnichannel and multichannel rates",
            charts.line_chart(
                [_period(r[0]) for r in rates],
                {
                    "omnichannel buyers (12 months)": [r[1] for r in rates],
                    "multichannel buyers (month)": [r[2] for r in rates],
                },
                charts.percent,
            ),
            "Omnichannel: share of the period's buyers who bought both in store and online (web or "
            "click & collect) within the 12 months ending with the period; drawn where the loaded "
            "history covers those 12 months. Multichannel: share of the period's buyers who bought "
            "in two purchase channels or more (store, web delivered, click & collect) in the period. "
            "A period still running at the data's as-of date is left out.",
        ),
        _figure(
            "Customer value by number of purchase channels",
            charts.bar_chart(
                [f"{r[0]} ({r[1]:,} buyers)" for r in value],
                value_series,
            ),
            f"Buyers of the {window[0]} months before the split date, by the purchase channels (store, "
            f"web, click & collect) they bought in during those months; value = their net revenue "
            f"without VAT in the {window[1]} months after it, up to the data's as-of date (each "
            "return counted against the sale it returns), per buyer, for every buyer and within each "
            "band of tenure (months since the first purchase): a customer who stays longer has more "
            "time to try channels. Bars on too few buyers to read (min_sample_size) are not drawn. "
            "Anonymous till tickets belong to no customer: these figures see "
            + (
                f"{charts.percent(window[2])} of the value window's sales and "
                f"{charts.percent(window[3])} of its revenue."
                if window[2] is not None
                else "no sale of the value window."
            ),
        ),
        _revenue_table(con),
        _figure(
            "12-month retention, omnichannel vs single-channel",
            charts.line_chart(periods, retention_series, charts.percent)
            if retention
            else charts.empty("no period with 24 months of history"),
            "Of the customers who bought in the 12 months before the last 12, the share who bought "
            "again in the 12 months up to the period's end; segment as it was at the end of the "
            "first 12 months. Every omnichannel customer has bought at least twice, and one-time "
            "buyers return least: the fair comparison is omnichannel against single-channel repeat "
            "buyers (bought at least twice by the end of the first 12 months), not against "
            f"single-channel as a whole. {incomplete} earlier period(s) without 24 months of loaded "
            "history are left out, as is a period still running at the data's as-of date.",
        ),
    ]


REVENUE_COLUMNS = (
    "channel of the sale", "sales", "gross sales €", "web refunds €", "returns of these sales €",
    "unattributed returns €", "net revenue €", "of identified customers €",
)  # fmt: skip


def _revenue_table(con: duckdb.DuckDBPyConnection) -> str:
    """Net revenue per channel over the loaded history, from sales to net: a return counts in the
    channel of the sale it returns; one whose sale is not in the data on its own column."""
    rows = _rows(
        con,
        "select channel_label, sum(sales), sum(gross_sales_amount)::double, sum(refunded_amount)::double, "
        "sum(attributed_returns_amount)::double, sum(unattributed_returns_amount)::double, "
        "sum(net_revenue)::double, sum(identified_net_revenue)::double "
        "from mart_net_revenue group by channel_label order by sum(net_revenue) desc",
    )
    return (
        "<div><h3>Net revenue by channel</h3>"
        + _table(REVENUE_COLUMNS, rows)
        + "<p class=sub>Over the loaded history. A till return counts against the sale it returns, "
        "in that sale's channel (a web order brought back to a store is web revenue given back) "
        "and for that sale's customer; unattributed returns name no sale of the data and are "
        "nobody's. net = gross + refunds + returns + unattributed returns.</p></div>"
    )


def _asked(names: list[str], values: list, greyed: list[bool]) -> tuple[list[str], list, list[bool], str]:
    """The touchpoints whose survey asks a score, their values and grey flags, and a note naming
    the ones left out: a touchpoint the survey does not ask about is not an empty bar."""
    kept = [i for i, v in enumerate(values) if v is not None]
    left_out = [names[i] for i, v in enumerate(values) if v is None]
    note = f" Not asked by the survey of: {', '.join(left_out)}." if left_out else ""
    return [names[i] for i in kept], [values[i] for i in kept], [greyed[i] for i in kept], note


def _score_chart(title: str, series: str, names: list[str], values: list, greyed: list[bool],
                 fmt: charts.Format, caption: str) -> str:  # fmt: skip
    """One score, one unit, one axis: a bar per touchpoint whose survey asks it."""
    names, values, greyed, note = _asked(names, values, greyed)
    svg = (
        charts.bar_chart(names, {series: values}, fmt, greyed=greyed) if names else charts.empty("not asked")
    )
    return _figure(title, svg, caption + note)


def _satisfaction_section(con: duckdb.DuckDBPyConnection) -> list[str]:
    touchpoints = _rows(
        con,
        "select segment_label, nps, csat, ces_mean, responses, irritant_rank, delight_rank, nps_ci_low, "
        "nps_ci_high, csat_ci_low, csat_ci_high, is_reliable from mart_satisfaction "
        "where level = 'touchpoint' order by responses desc",
    )
    themes = verbatim_themes(con)
    # Scores on too few answers are noise: greyed in the charts and the table, and said.
    greyed = [not r[11] for r in touchpoints]
    few = [r[0] for r in touchpoints if not r[11]]
    few_note = (
        f" Grey: too few answers to read (below the dbt var min_responses, 30 by default): {', '.join(few)}."
        if few
        else ""
    )
    names = [r[0] for r in touchpoints]
    ranked = sorted(touchpoints, key=lambda r: (r[5] is None, r[5] or 0))
    return [
        _score_chart(
            "NPS by touchpoint (points)",
            "NPS",
            names,
            [r[1] for r in touchpoints],
            greyed,
            charts.points,
            "NPS = % promoters (9-10) - % detractors (0-6), from -100 to +100 points; 95 % intervals "
            "in the table below." + few_note,
        ),
        _score_chart(
            "CSAT by touchpoint (% satisfied)",
            "CSAT",
            names,
            [r[2] for r in touchpoints],
            greyed,
            charts.percent_points,
            "CSAT = % of answers 4 or 5 of 5; 95 % intervals in the table below." + few_note,
        ),
        _score_chart(
            "Customer effort (CES) by touchpoint",
            "CES mean (1 hard - 7 easy)",
            names,
            [r[3] for r in touchpoints],
            greyed,
            charts.number,
            "Mean Customer Effort Score, 1 (hard) to 7 (easy)." + few_note,
        ),
        _figure(
            "Irritants and delights in verbatims",
            charts.bar_chart(
                [r[0] for r in themes],
                {"negative mentions": [r[2] for r in themes], "positive mentions": [r[1] for r in themes]},
            ),
            "Themes found in survey comments (dictionary in dbt seeds), most negative first.",
        ),
        "<div><h3>Touchpoints ranked</h3>"
        + _table(
            TOUCHPOINT_COLUMNS,
            [
                (r[0], r[4], r[5], r[6], r[1], _interval(r[7], r[8]), r[2], _interval(r[9], r[10]))
                for r in ranked
            ],
            greyed=[not r[11] for r in ranked],
        )
        + "<p class=sub>Irritant rank 1 = highest detractor share; delight rank 1 = highest "
        "promoter share. Greyed: fewer answers than the dbt var min_responses (30 by default), "
        "too few to read. Empty: the survey of that touchpoint does not ask the score.</p></div>",
    ]


def verbatim_themes(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """(label, positive, negative, mentions) per theme over every period and touchpoint, most
    negative first: one row per theme of ``mart_verbatim_themes``, each answer counted once; the
    label in the report's language (``theme_label``, joined at publication)."""
    return _rows(
        con,
        "select theme_label, positive_mentions, negative_mentions, mentions from mart_verbatim_themes "
        "order by negative_mentions - positive_mentions desc, theme_label",
    )


TOUCHPOINT_COLUMNS = (
    "touchpoint", "responses", "irritant rank", "delight rank", "NPS", "NPS 95 %", "CSAT", "CSAT 95 %",
)  # fmt: skip


def _interval(low: float | None, high: float | None) -> str:
    return "" if low is None or high is None else f"{low:.1f} to {high:.1f}"


def _operations_section(con: duckdb.DuckDBPyConnection) -> list[str]:
    transitions = _rows(
        con,
        "select from_channel_label, to_channel_label, share_of_from_channel from mart_channel_transitions",
    )
    channels = sorted({r[0] for r in transitions} | {r[1] for r in transitions})
    pickups = _rows(
        con,
        "select period_start, median_hours_ready_to_collected, p90_hours_ready_to_collected, "
        "late_pickup_rate "
        "from mart_click_and_collect order by 1",
    )
    return [
        _rate_tiles(con),
        _figure(
            "Channel transitions",
            charts.heatmap(channels, channels, {(r[0], r[1]): float(r[2]) for r in transitions}),
            "Row → column: share of a customer's next step in each channel. A step is a visit: "
            "a web session with the order it placed (on the order's channel: a click & collect "
            "checkout is one click & collect step, not a switch), a till ticket, a pickup, a "
            "service ticket; survey answers excluded.",
        ),
        _figure(
            "Click & collect pickup delay",
            charts.line_chart(
                [_period(r[0]) for r in pickups],
                {
                    "median hours ready → collected": [r[1] for r in pickups],
                    "90th percentile": [r[2] for r in pickups],
                },
            ),
            "Hours between 'ready for pickup' and collection, per period of the order.",
        ),
    ]


RATE_TILES_TITLE = "Cross-channel, click & collect and service, latest complete period"


def _rate_tiles(con: duckdb.DuckDBPyConnection) -> str:
    """The rates with an interval of the latest period that had ended, each greyed when its base is
    below min_sample_size, beside the coverage that says what they cannot see (not greyed: a
    count of everything, not a sample)."""
    cross = dict(
        (direction, (rate, reliable, tickets, sessions))
        for direction, rate, reliable, tickets, sessions in _rows(
            con,
            "select direction, cross_channel_rate, cross_channel_rate_is_reliable, "
            "identified_till_ticket_share, identified_session_share from mart_cross_channel_purchases "
            "where period_start = (select max(period_start) from mart_cross_channel_purchases "
            "where not is_partial_period)",
        )
    )
    pickups = _rows(
        con,
        "select click_and_collect_share, click_and_collect_share_is_reliable, late_pickup_rate, "
        "late_pickup_rate_is_reliable from mart_click_and_collect where not is_partial_period "
        "order by period_start desc limit 1",
    )
    service = _rows(
        con,
        "select repeat_contact_rate, repeat_contact_rate_is_reliable, first_contact_resolution_rate, "
        "first_contact_resolution_rate_is_reliable from mart_service_contacts where not is_partial_period "
        "order by period_start desc limit 1",
    )
    web_to_store = cross.get("web_to_store", (None, False, None, None))
    store_to_web = cross.get("store_to_web", (None, False, None, None))
    c_and_c = pickups[0] if pickups else (None, False, None, False)
    contacts = service[0] if service else (None, False, None, False)
    # (label, rate, is_reliable, unit of its base); coverage is a count of everything: reliable.
    tiles = [
        ("web-to-store purchases", web_to_store[0], web_to_store[1], "purchases"),
        ("store-to-web purchases", store_to_web[0], store_to_web[1], "purchases"),
        ("click & collect share of web orders", c_and_c[0], c_and_c[1], "web orders"),
        ("late pickups (> 3 days)", c_and_c[2], c_and_c[3], "click & collect orders"),
        ("repeat contacts", contacts[0], contacts[1], "contacts"),
        ("first-contact resolution", contacts[2], contacts[3], "contacts"),
        ("till sales identified", web_to_store[2], True, ""),
        ("web sessions identified", web_to_store[3], True, ""),
    ]
    return (
        f"<div><h3>{escape(RATE_TILES_TITLE)}</h3>"
        + '<div class="tiles">'
        + "".join(
            _tile(label, "-" if value is None else charts.percent(value), not reliable, unit)
            for label, value, reliable, unit in tiles
        )
        + "</div><p class=sub>Greyed: a base below the dbt var min_sample_size (30 by default), too "
        "small to read. Web-to-store and store-to-web count identified customers only: the last two "
        "tiles say how much of the store and web activity names a customer.</p></div>"
    )


def _identity_accuracy(accuracy_file: Path) -> list[str]:
    """The accuracy the identity step estimated without a truth file (``identity_accuracy.json``)."""
    if not accuracy_file.exists():
        return []
    said = json.loads(accuracy_file.read_text(encoding="utf-8"))
    return [f"<p>Accuracy estimated without a truth file: {escape(said['line'])}.</p>"]


def _identity_change(preview_file: Path) -> list[str]:
    """What this publication's customer ids changed against the previous one (the merge-impact
    preview the run wrote before publishing, ``serving/identity_impact.json``), as a paragraph."""
    if not preview_file.exists():
        return []
    change = json.loads(preview_file.read_text(encoding="utf-8"))
    return [f"<p>Against the previous publication: {escape(change['line'])}</p>"]


def _identity_range(serving_dir: Path) -> list[str]:
    """The headline KPIs at a stricter and a looser match threshold beside the published ones (the
    identity KPI range, ``serving/identity_kpi_range.json``, computed weekly), as a table."""
    said = read_last(serving_dir)
    if said is None:
        return []
    header = [f"period {said.period}", *said.header()[1:]]
    rows = [[kpi.replace("_", " "), *values] for kpi, *values in said.shown_rows()]
    return [
        "<h3>How much the headline depends on identity</h3>",
        "<p class=sub>The same KPIs with customers clustered at a stricter and a looser match "
        f"threshold (computed {escape(said.computed_at[:16].replace('T', ' '))} UTC). A wide range: "
        "the figure rests on uncertain merges; the review queue lists them.</p>",
        _table(header, rows),
    ]


def _identity_section(con: duckdb.DuckDBPyConnection) -> tuple[list[str], dict]:
    records, customers = _rows(
        con, "select count(*), count(distinct customer_id) from bridge_customer_source_records"
    )[0]
    methods = _rows(
        con, "select match_method, count(*) from bridge_customer_source_records group by 1 order by 2 desc"
    )
    confidence = _rows(
        con,
        "select least(floor(match_confidence * 20) / 20, 0.95) as bucket, count(*) from "
        "bridge_customer_source_records "
        "where match_method = 'probabilistic' group by 1 order by 1",
    )
    sizes = _rows(
        con,
        "select least(n, 10), count(*) from (select count(*) n from bridge_customer_source_records "
        "group by customer_id) group by 1 order by 1",
    )
    tiles = [("identity records", records), ("customers", customers)] + [
        (f"{m} links", n) for m, n in methods
    ]
    html = [
        '<div class="tiles">'
        + "".join(_tile(k, f"{v:,}", False) for k, v in tiles)
        + _tile("records per customer", f"{records / max(customers, 1):.2f}", False)
        + "</div>",
        '<div class="grid">',
        _figure(
            "Match confidence of probabilistic links",
            charts.bar_chart(
                [f"{b:.2f}-{b + 0.05:.2f}" for b, _ in confidence], {"records": [n for _, n in confidence]}
            ),
            "Splink match probability of the link that joined each probabilistically linked record.",
        ),
        _figure(
            "Records per customer",
            charts.bar_chart(
                [f"{s}{'+' if s == 10 else ''}" for s, _ in sizes], {"customers": [n for _, n in sizes]}
            ),
            "How many source records (till tickets, web accounts, CRM contacts, surveys...) each "
            "customer unifies.",
        ),
        "</div>",
    ]
    return html, {"identity_records": records, "customers": customers}


def _quality_section(quality_dir: Path) -> tuple[list[str], dict]:
    rows = [
        (a, c["name"], c["severity"], c["success"], c["reason"]) for a, _, _, c in latest_checks(quality_dir)
    ]
    failed = [r for r in rows if not r[3]]
    critical = sum(r[2] == "critical" for r in failed)
    html = [
        f'<div class="tiles"><div class="tile"><b>{len(rows)}</b>checks</div>'
        f'<div class="tile"><b>{len(rows) - len(failed)}</b>passed</div>'
        f'<div class="tile"><b class="{"failed" if critical else ""}">{critical}</b>critical failures</div>'
        f'<div class="tile"><b>{len(failed) - critical}</b>warnings</div></div>',
        _table(["asset", "check", "severity", "reason"], [(a, n, s, reason) for a, n, s, _, reason in failed])
        if failed
        else "<p>Every check passed.</p>",
        '<p class="sub">All checks and their details: <a href="../quality/index.html">data '
        "quality report</a>.</p>",
    ]
    return html, {
        "quality_checks": len(rows),
        "quality_failed": len(failed),
        "quality_critical_failed": critical,
    }


def _tile(label: str, value: str, greyed: bool, unit: str = "customers") -> str:
    """A headline figure; greyed out (with the reason on hover) when its base of ``unit`` is too
    small."""
    attributes = f' class="tile greyed" title="too few {escape(unit)} to read"' if greyed else ' class="tile"'
    return f"<div{attributes}><b>{escape(value)}</b>{escape(label)}</div>"


def _headline_period(headline: dict, surveys: tuple) -> str:
    """What the headline figures cover: the latest month that had ended, the surveys the scores
    are over, and the instant the data describe (a reader of a printed report cannot ask)."""
    parts = [
        f"Latest complete period: {headline['period'] or 'none yet'}",
        "survey scores over the answers of "
        + (f"{surveys[0]} to {surveys[1]}" if surveys[0] else "no survey yet"),
        f"data as of {headline['as_of'] or 'unknown'}",
    ]
    return " · ".join(parts)


def write_report(marts_file: Path, quality_dir: Path, out_dir: Path) -> Report:
    """Render ``out_dir/index.html`` (``serving/report/``) from the published marts (``marts_file``)
    and the quality results in ``quality_dir``: ``Settings.published_marts_path``, ``quality_dir``
    and ``report_dir``, siblings under ``serving/`` (the page links ``../quality/`` and
    ``../dbt_docs/``)."""
    con = duckdb.connect(str(marts_file), read_only=True)
    try:
        published = _rows(con, f"select max(run_id), max(published_at) from {PUBLICATION_TABLE}")[0]
        # The headline: the latest period that had ended at as_of.
        latest = _rows(
            con,
            "select period_start, multichannel_rate, omnichannel_rate, multichannel_rate_is_reliable, "
            "omnichannel_rate_is_reliable from mart_multichannel_customers where not is_partial_period "
            "order by 1 desc limit 1",
        )
        retention_12m = _rows(
            con,
            "select retention_rate_12m, retention_rate_12m_is_reliable, period_start from mart_retention "
            "where is_complete_history and not is_partial_period order by period_start desc limit 1",
        )
        overall = _rows(con, "select nps, csat, ces_mean from mart_satisfaction where level = 'global'")
        # The instant the data describe (dbt var as_of: the value window ends there) and the
        # surveys the scores are over, for the headline strip.
        as_of = _rows(con, "select max(value_end_at) from mart_clv_window")[0][0]
        surveys = _rows(
            con, "select min(submitted_at)::date, max(submitted_at)::date from fct_survey_responses"
        )[0]
        journeys = _journey_section(con)
        satisfaction = _satisfaction_section(con)
        operations = _operations_section(con)
        identity, identity_summary = _identity_section(con)
    finally:
        con.close()
    identity = (
        _identity_change(marts_file.parent / IMPACT_FILE)
        + _identity_accuracy(marts_file.parent / ACCURACY_FILE)
        + identity
        + _identity_range(marts_file.parent)
    )
    quality, quality_summary = _quality_section(quality_dir)
    nps, csat, ces = overall[0] if overall else (None, None, None)
    headline = {
        "multichannel_rate": latest[0][1] if latest else None,
        "omnichannel_rate": latest[0][2] if latest else None,
        "multichannel_rate_is_reliable": bool(latest and latest[0][3]),
        "omnichannel_rate_is_reliable": bool(latest and latest[0][4]),
        "retention_rate_12m": retention_12m[0][0] if retention_12m else None,
        "retention_rate_12m_is_reliable": bool(retention_12m and retention_12m[0][1]),
        "period": _period(latest[0][0]) if latest else None,
        "as_of": as_of.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if as_of else None,
        "nps": nps,
        "csat": csat,
        "ces_mean": ces,
        **identity_summary,
        **quality_summary,
    }
    # (label, value, greyed): rates on too few customers are greyed out, as survey scores are.
    tiles = [
        (
            f"omnichannel buyers (12 months to {headline['period']})",
            "-" if headline["omnichannel_rate"] is None else charts.percent(headline["omnichannel_rate"]),
            not headline["omnichannel_rate_is_reliable"],
        ),
        (
            "12-month retention"
            + (
                f" (12 months to {_period(retention_12m[0][2])})"
                if retention_12m
                else " (no period with 24 months)"
            ),
            "-" if headline["retention_rate_12m"] is None else charts.percent(headline["retention_rate_12m"]),
            not headline["retention_rate_12m_is_reliable"],
        ),
        (
            f"multichannel buyers ({headline['period']})",
            "-" if headline["multichannel_rate"] is None else charts.percent(headline["multichannel_rate"]),
            not headline["multichannel_rate_is_reliable"],
        ),
        ("NPS (points, all surveys)", "-" if nps is None else f"{nps:.1f}", False),
        ("CSAT (% satisfied, all surveys)", "-" if csat is None else f"{csat:.1f} %", False),
        ("CES (1-7, all surveys)", "-" if ces is None else f"{ces:.2f}", False),
        ("customers", f"{identity_summary['customers']:,}", False),
    ]
    sections = [
        ("Omnichannel journeys", journeys),
        ("Satisfaction", satisfaction),
        ("Journeys between channels and click & collect", operations),
    ]
    body = "".join(f'<h2>{escape(t)}</h2><div class="grid">{"".join(parts)}</div>' for t, parts in sections)
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Omnichannel KPI report</title><style>{STYLE}</style></head><body>
<h1>Omnichannel KPI report</h1>
<p class="sub">Published {escape(str(published[1]))} by run {escape(str(published[0]))} ·
from <code>serving/marts.duckdb</code> · definitions in the <a href="../dbt_docs/index.html">dbt docs</a></p>
<p class="period">{escape(_headline_period(headline, surveys))}</p>
<div class="tiles">{"".join(_tile(*tile) for tile in tiles)}</div>
{body}
<h2>Identity resolution</h2>{"".join(identity)}
<h2>Data quality</h2>{"".join(quality)}
</body></html>
"""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = write_text_atomically(out_dir / "index.html", page)
    return Report(target, page.count('<figure class="chart">'), headline)
