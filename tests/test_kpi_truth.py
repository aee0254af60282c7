"""KPI marts against the generator's ground truth, computed independently in plain Python.

The generator writes what really happened under ``truth/``: every event of every person
(``journeys.csv``) and which person each identity-bearing record belongs to (``identities.csv``).
Here the KPIs are recomputed from those files with the Python standard library (no SQL, no dbt
model reused) and compared with the marts built by the full pipeline (session fixture ``pipeline``).

Scope: a mart can only know a customer through records that carry an identity (a till ticket
without a loyalty card or contact is anonymous for ever), so the truth side keeps the events
whose record is in ``identities.csv`` (web sessions through their visitor id).

Tolerance, and why:
- KPIs that do not depend on who is who (survey scores, click & collect share and delays, total
  cost to serve, identified revenue per channel with returns netted to their sale, net revenue
  per period and channel, theme counts) must match exactly (to the rounding of the mart);
- KPIs per customer depend on identity resolution. A missed link splits a person into two
  customers (each with fewer channels and purchases), a false link merges two. Pairwise F1 on
  generated data is ≈ 0.99 (README, Identity resolution), so about 1 to 2 % of a person's record pairs
  are split: rates per customer may differ by up to 0.03 (3 points) per month and per-customer
  means, channel transitions and purchase paths by up to 10 % (a split loses the transitions
  between the fragments); retention gets twice the rate tolerance, because a split fragment that
  buys later for the first time also counts as a new customer (N in (E - N) / S). Larger gaps
  mean a mart bug, not identity noise.

Measured (tests/test_kpi_truth.py functions run on 5,000 generated customers, seed 42, before the
living population of issue 17): largest monthly gap 0.009 on the multichannel rate, 0.032 on
retention; repeat-contact rate 0.151 vs
0.160 true; web-to-store 0.132 vs 0.137; CLV of single-channel customers 8 % under the truth
(split fragments are single-channel). On the 300-customer test data every gap is 0. Net revenue
per person and channel with returns netted to their sale, on a resolved 10,000-customer generated
sample: channel totals exact, 50 of 6,489 people (0.8 %) with some channel off (identity errors).
Value by number of purchase channels without look-ahead on that sample (as_of 2026-11-01, its
till returns linked to their sale from the return ticket, which its older journeys do not name):
windows and coverage exact; 1-channel buyers 5.5 % more than the true people and worth 7.3 % less,
2-channel buyers -1.2 % and -0.7 %, 3-channel -5 % and +0.7 %; per tenure band, the 1-channel
buyers of 0-5 and 6-11 months +16 % and +14 %, worth 17 % and 14 % less (split fragments look
new), every other cell of 20 buyers or more within 6 %.
"""

from __future__ import annotations

import calendar
import csv
import itertools
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from orchestration.lib.dbt_project import DBT_PROJECT_DIR
from tests.conftest import Generated, query

PARIS = ZoneInfo("Europe/Paris")
RATE_TOLERANCE = 0.03
MEAN_TOLERANCE = 0.10
SALE_EVENTS = ("store_purchase", "web_order")
REVENUE_CHANNELS = ("store", "web", "click_and_collect")
THEMES = {
    "attente": "wait", "livraison": "delivery", "retrait": "pickup", "prix": "price",
    "accueil": "staff_welcome", "qualité produit": "product_quality", "site web": "website",
    "service client": "customer_service",
}  # fmt: skip


@dataclass(frozen=True)
class Event:
    person: str
    at: datetime
    channel: str  # store, web, click_and_collect, service, survey
    event: str
    record: str
    amount: Decimal
    detail: dict[str, str]
    observable: bool

    @property
    def month(self) -> date:
        return self.at.astimezone(PARIS).date().replace(day=1)


def load_truth(truth: Path) -> list[Event]:
    """Every true event, flagged observable when its record carries an identity."""
    with (truth / "identities.csv").open(encoding="utf-8") as f:
        identified = {(r["source_system"], r["source_record_id"]) for r in csv.DictReader(f)}
    events = []
    with (truth / "journeys.csv").open(encoding="utf-8") as f:
        for r in csv.DictReader(f):
            detail = dict(kv.split("=", 1) for kv in r["detail"].split(";") if "=" in kv)
            key = (
                ("ecommerce_visitors", detail["visitor"])
                if r["event"] == "web_session"
                else (r["source_system"], r["source_record_id"])
            )
            amount = Decimal(r["amount_eur"] or "0") - Decimal(detail.get("refunded", "0"))
            events.append(
                Event(
                    person=r["person_id"],
                    at=datetime.fromisoformat(r["event_at_utc"].replace("Z", "+00:00")),
                    channel="service" if r["channel"].startswith("service_") else r["channel"],
                    event=r["event"],
                    record=r["source_record_id"],
                    amount=amount,
                    detail=detail | {"contact_channel": r["channel"].removeprefix("service_")},
                    observable=key in identified,
                )
            )
    return events


@pytest.fixture(scope="module")
def truth(generated: Generated) -> list[Event]:
    return load_truth(generated.truth)


@pytest.fixture(scope="module")
def interactions(truth: list[Event]) -> list[Event]:
    """Observable events that are interactions in a channel (survey answers rate one, they are not one)."""
    return [e for e in truth if e.observable and e.channel != "survey"]


def sale_returned(e: Event, sales: dict[str, Event]) -> Event | None:
    """The sale a till return gives money back for (``ticket=`` a till sale, ``web_order=`` a web
    order brought back to a store); None when the journey names none."""
    return sales.get(e.detail.get("ticket") or e.detail.get("web_order", ""))


def net_revenue_by_person(truth: list[Event]) -> dict[str, dict[str, Decimal]]:
    """Observable net revenue per person and channel, returns netted to the sale they return: a
    sale (web refunds deducted) counts for its person and channel when its record carries an
    identity, and so does every return of it, whoever brought it back; a web order returned in
    store stays web (or click & collect) revenue. A return of an anonymous sale is nobody's."""
    sales = {e.record: e for e in truth if e.event in SALE_EVENTS}
    revenue: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for e in truth:
        sale = e if e.event in SALE_EVENTS else sale_returned(e, sales) if e.event == "store_return" else None
        if sale is not None and sale.observable:
            revenue[sale.person][sale.channel] += e.amount
    return revenue


def nps(scores: list[int]) -> float:
    return round(100 * (sum(s >= 9 for s in scores) - sum(s <= 6 for s in scores)) / len(scores), 1)


def test_interaction_multichannel_rate_per_month_matches_truth(pipeline, interactions) -> None:
    channels: dict[date, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for e in interactions:
        channels[e.month][e.person].add(e.channel)
    mart = {
        row[0]: row[1:]
        for row in query(
            pipeline[0],
            "select period_start, active_customers, interaction_multichannel_rate "
            "from marts.mart_multichannel_customers",
        )
    }
    assert set(mart) == set(channels)
    for month, people in channels.items():
        true_rate = sum(len(c) >= 2 for c in people.values()) / len(people)
        active, rate = mart[month]
        assert abs(active - len(people)) <= MEAN_TOLERANCE * len(people), month
        assert rate == pytest.approx(true_rate, abs=RATE_TOLERANCE), month


def _months_back(month: date, months: int) -> date:
    """The first day of the month ``months`` before ``month``."""
    index = month.year * 12 + month.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def test_multichannel_and_trailing_omnichannel_rates_of_buyers_match_truth(
    pipeline, truth, interactions
) -> None:
    """Multichannel: the month's buyers who bought in two purchase channels or more (store, web,
    click & collect) that month. Omnichannel: the month's buyers who bought in store and online
    within the 12 months ending with it, flagged complete once the history covers them. Like
    retention, the trailing rate needs a person's purchases linked across a year (a split fragment
    loses the other channel): twice the rate tolerance per month, the plain one over all months."""
    bought: dict[str, dict[date, set[str]]] = defaultdict(lambda: defaultdict(set))
    for e in interactions:
        if e.event in ("store_purchase", "web_order"):
            bought[e.person][e.month].add(e.channel)
    # The history starts on the day of the first exported event, whoever's it is.
    first_day = min(e.at.astimezone(PARIS).date() for e in truth)
    mart = {
        row[0]: row[1:]
        for row in query(
            pipeline[0],
            "select period_start, buyers, multichannel_rate, omnichannel_rate, is_complete_window "
            "from marts.mart_multichannel_customers where buyers > 0",
        )
    }
    months = {m for by_month in bought.values() for m in by_month}
    assert set(mart) == months
    pooled = {"mart": [0.0, 0], "truth": [0, 0]}  # omnichannel buyers, buyers over all months
    for month in months:
        buyers = [p for p, by_month in bought.items() if month in by_month]
        multichannel = sum(len(bought[p][month]) >= 2 for p in buyers) / len(buyers)
        window = [_months_back(month, k) for k in range(12)]
        omnichannel = 0
        for p in buyers:
            channels = set().union(*(bought[p].get(m, set()) for m in window))
            omnichannel += "store" in channels and bool(channels & {"web", "click_and_collect"})
        count, rate, omni_rate, complete = mart[month]
        assert abs(count - len(buyers)) <= MEAN_TOLERANCE * len(buyers), month
        assert rate == pytest.approx(multichannel, abs=RATE_TOLERANCE), month
        assert omni_rate == pytest.approx(omnichannel / len(buyers), abs=2 * RATE_TOLERANCE), month
        assert complete == (window[-1] >= first_day), month
        pooled["mart"][0] += omni_rate * count
        pooled["mart"][1] += count
        pooled["truth"][0] += omnichannel
        pooled["truth"][1] += len(buyers)
    mart_rate, true_rate = (omni / buyers for omni, buyers in pooled.values())
    assert mart_rate == pytest.approx(true_rate, abs=RATE_TOLERANCE)


def test_satisfaction_per_touchpoint_and_global_matches_truth_exactly(pipeline, truth) -> None:
    answers = [e.detail for e in truth if e.event == "survey_response"]
    mart = dict(
        query(
            pipeline[0],
            "select segment, nps from marts.mart_satisfaction"
            " where level in ('touchpoint', 'global') and nps is not null",
        )
    )
    scored = [a for a in answers if a["nps"] != "None"]
    assert mart["all"] == nps([int(a["nps"]) for a in scored])
    for touchpoint in {a["touchpoint"] for a in scored}:
        assert mart[touchpoint] == nps([int(a["nps"]) for a in scored if a["touchpoint"] == touchpoint])
    (csat,) = query(pipeline[0], "select csat from marts.mart_satisfaction where level = 'global'")[0]
    csats = [int(a["csat"]) for a in answers if a["csat"] != "None"]
    assert csat == round(100 * sum(s >= 4 for s in csats) / len(csats), 1)


def test_click_and_collect_share_and_pickup_delay_match_truth(pipeline, truth) -> None:
    orders = [e for e in truth if e.event == "web_order"]
    month_of = {e.record: e.month for e in orders}
    by_month: dict[date, list[bool]] = defaultdict(list)
    for e in orders:
        by_month[e.month].append(e.channel == "click_and_collect")
    delays: dict[date, list[float]] = defaultdict(list)
    for e in truth:
        if e.event == "pickup":
            delays[month_of[e.record]].append(float(e.detail["ready_to_collected_hours"]))
    rows = query(
        pipeline[0],
        "select period_start, click_and_collect_share, median_hours_ready_to_collected"
        " from marts.mart_click_and_collect",
    )
    assert {r[0] for r in rows} == set(by_month)
    for month, share, median_hours in rows:
        assert share == round(sum(by_month[month]) / len(by_month[month]), 4)
        if delays[month]:
            assert median_hours == pytest.approx(
                statistics.median(delays[month]), abs=0.11
            )  # both rounded to 0.1 h


def test_total_cost_to_serve_matches_truth_priced_with_the_seed(pipeline, truth) -> None:
    with (DBT_PROJECT_DIR / "seeds" / "interaction_unit_costs.csv").open(encoding="utf-8") as f:
        cost = {r["interaction"]: Decimal(r["unit_cost_eur"]) for r in csv.DictReader(f)}
    expected = Decimal(0)
    for e in truth:  # every interaction costs, identified or not
        if e.event == "web_session":
            expected += cost["web_visit"] + (cost["web_cart"] if e.detail["cart"] == "1" else 0)
        elif e.event == "web_order":
            expected += cost[
                "click_and_collect_order" if e.channel == "click_and_collect" else "web_home_delivery_order"
            ]
            if Decimal(e.detail.get("refunded", "0")) > 0:  # refunds are priced too
                refund = "click_and_collect_refund" if e.channel == "click_and_collect" else "web_refund"
                expected += cost[refund]
        else:
            expected += cost[{
                "store_purchase": "store_sale", "store_return": "store_return",
                "pickup": "click_and_collect_pickup", "survey_response": "survey_response",
            }.get(e.event) or f"service_{e.detail['contact_channel']}"]  # fmt: skip
    ((total,),) = query(pipeline[0], "select sum(cost_eur) from marts.mart_cost_to_serve")
    assert total == expected


def test_web_orders_returned_in_store_match_truth_exactly(pipeline, truth) -> None:
    """A web order brought back to a store is a till return referencing it, whoever the customer;
    its amount is web revenue given back (in the month of the return), never store revenue."""
    orders = {e.record: e for e in truth if e.event == "web_order"}
    returns = [e for e in truth if e.event == "store_return" and "web_order" in e.detail]
    expected = Counter(
        (orders[o].month, orders[o].detail["method"]) for o in {e.detail["web_order"] for e in returns}
    )
    mart = {
        (row[0], row[1]): row[2]
        for row in query(
            pipeline[0],
            "select period_start, fulfilment_method, returned_in_store_orders "
            "from marts.mart_fulfilment_modes",
        )
    }
    assert sum(expected.values()) > 0
    assert {k: v for k, v in mart.items() if v} == dict(expected)
    amounts: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
    for e in returns:
        amounts[(e.month, orders[e.detail["web_order"]].channel)] += e.amount
    netted = query(
        pipeline[0],
        "select period_start, channel, sum(attributed_returns_amount) from marts.mart_net_revenue"
        " where channel <> 'store' group by all having sum(attributed_returns_amount) <> 0",
    )
    assert {(m, c): v for m, c, v in netted} == dict(amounts)


def _months_before(at: datetime, months: int) -> datetime:
    """``at`` moved ``months`` calendar months back (UTC), the day clamped to the month's length:
    the mart's split and observation start, computed without it."""
    index = at.year * 12 + at.month - 1 - months
    year, month = divmod(index, 12)
    return at.replace(year=year, month=month + 1, day=min(at.day, calendar.monthrange(year, month + 1)[1]))


def _whole_months(since: datetime, until: datetime) -> int:
    """Whole months from ``since`` to ``until`` (UTC calendar); a month's last day completes a month
    whose day it lacks (31 Jan -> 28 Feb is 1)."""
    months = (until.year - since.year) * 12 + until.month - since.month
    last_day = calendar.monthrange(until.year, until.month)[1]
    if until.day == last_day and since.day > until.day:
        return months
    return months - ((until.day, until.timetz()) < (since.day, since.timetz()))


def tenure_band(months: int) -> str:
    return (
        "0-5 months"
        if months < 6
        else "6-11 months"
        if months < 12
        else "12-23 months"
        if months < 24
        else "24+ months"
    )


@dataclass
class ClvBuyer:
    channels: set[str]
    first_purchase: datetime
    value: Decimal = Decimal(0)  # net revenue TTC of the value window's sales, returns by as_of netted


def clv_truth(
    truth: list[Event], observation_start: datetime, split: datetime, as_of: datetime
) -> tuple[dict[str, ClvBuyer], list[int], list[Decimal]]:
    """The buyers of the observation window (observable sales in (observation_start, split]) with
    the purchase channels of that window only, their first observable sale, and the net revenue of
    their sales in (split, as_of], each with its returns booked by as_of (whoever brought them
    back). Also the value window's sales and net revenue, [all, identified]: the coverage."""
    sales = {e.record: e for e in truth if e.event in SALE_EVENTS}
    first: dict[str, datetime] = {}
    channels: dict[str, set[str]] = defaultdict(set)
    for e in sales.values():
        if e.observable and e.at <= split:
            first[e.person] = min(first.get(e.person, e.at), e.at)
            if e.at > observation_start:
                channels[e.person].add(e.channel)
    buyers = {p: ClvBuyer(used, first[p]) for p, used in channels.items()}
    counts, amounts = [0, 0], [Decimal(0), Decimal(0)]
    for e in truth:
        sale = e if e.event in SALE_EVENTS else sale_returned(e, sales) if e.event == "store_return" else None
        if sale is None or not split < sale.at <= as_of or e.at > as_of:
            continue
        counts[0] += e is sale
        counts[1] += e is sale and sale.observable
        amounts[0] += e.amount
        if sale.observable:
            amounts[1] += e.amount
            if sale.person in buyers:
                buyers[sale.person].value += e.amount
    return buyers, counts, amounts


def test_identified_revenue_and_value_by_channel_count_match_truth(pipeline, truth) -> None:
    """Customer value by number of purchase channels without look-ahead, from the journeys: the
    buyers of the observation window, by the purchase channels of that window only (a channel first
    used after the split does not count), valued over the value window up to as_of, per tenure
    band. The windows and the coverage do not depend on who is who and match exactly (TTC; the HT
    share within 0.01, the VAT mix of anonymous tickets); buyers and value per buyer per group are
    per-customer means: within MEAN_TOLERANCE, on groups of 20 true buyers or more (fewer is
    noise), since a missed link makes one buyer two with fewer channels each. Per tenure band,
    twice that, as for retention's new customers: the fragment of a split customer has a later
    first purchase, so it lands as a 1-channel buyer in a young band (on the 10,000-customer
    sample: 1-channel buyers of 0-5 months +16 %, their value -17 %; of 6-11 months +14 % and
    -14 %; every other cell of 20 buyers or more within 6 %)."""
    revenue = {
        person: sum(by_channel.values()) for person, by_channel in net_revenue_by_person(truth).items()
    }
    ((total,),) = query(pipeline[0], "select sum(lifetime_revenue) from marts.dim_customers")
    assert total == sum(revenue.values())
    ((observation_start, split, as_of, *coverage),) = query(
        pipeline[0],
        "select observation_start_at, split_at, value_end_at, value_sales, identified_value_sales,"
        " value_net_revenue, identified_value_net_revenue, identified_revenue_share"
        " from marts.mart_clv_window",
    )
    assert split == _months_before(as_of, 12) and observation_start == _months_before(split, 12)
    buyers, counts, amounts = clv_truth(truth, observation_start, split, as_of)
    assert coverage[:4] == [*counts, *amounts]
    assert 0 < counts[1] < counts[0]  # anonymous till tickets: the coverage has something to say
    assert coverage[4] == pytest.approx(float(amounts[1] / amounts[0]), abs=0.01)
    groups: dict[tuple[str, int], list[Decimal]] = defaultdict(list)
    for buyer in buyers.values():
        band = tenure_band(_whole_months(buyer.first_purchase, split))
        groups[("all", len(buyer.channels))].append(buyer.value)
        groups[(band, len(buyer.channels))].append(buyer.value)
    mart = {
        (band, count): (n, float(net_revenue) / n)
        for band, count, n, net_revenue in query(
            pipeline[0],
            "select 'all', purchase_channel_count, buyers, net_revenue from marts.mart_value_by_channel_count"
            " union all select tenure_band, purchase_channel_count, buyers, net_revenue"
            " from marts.mart_value_by_channel_count_and_tenure",
        )
    }
    checked = 0
    for key in set(groups) | set(mart):
        values = groups.get(key, [])
        n, clv = mart.get(key, (0, 0.0))
        tolerance = MEAN_TOLERANCE if key[0] == "all" else 2 * MEAN_TOLERANCE
        # Every group's size, small ones too: counting channels after the split would swell the
        # multichannel groups far beyond this.
        assert abs(n - len(values)) <= max(2, tolerance * len(values)), key
        if len(values) >= 20:
            assert clv == pytest.approx(float(sum(values)) / len(values), rel=tolerance), key
            checked += 1
    assert checked >= 2  # the 1-channel buyers, in all and in their tenure band at least


def test_net_revenue_per_person_and_channel_nets_returns_to_the_sale(pipeline, generated, truth) -> None:
    """Per person and channel, the customer 360's revenue is the truth's with every return netted
    to the sale it returns: the sale's person, whoever brought it back, and the sale's channel (a
    web order returned in store stays web revenue). Channel totals match exactly (identity decides
    whose a sale is, not whether it is identified); per person, a false merge moves one person's
    revenue to another, so up to RATE_TOLERANCE of the people may differ. Nobody's revenue in a
    channel is below zero, in the truth or in the mart."""
    true = net_revenue_by_person(truth)
    with (generated.truth / "identities.csv").open(encoding="utf-8") as f:
        person_of = {(r["source_system"], r["source_record_id"]): r["person_id"] for r in csv.DictReader(f)}
    records: dict[str, Counter[str]] = defaultdict(Counter)
    for customer, system, record in query(
        pipeline[0],
        "select customer_id, source_system, source_record_id from marts.bridge_customer_source_records",
    ):
        if (system, record) in person_of:
            records[customer][person_of[(system, record)]] += 1
    mart: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for customer, *amounts in query(
        pipeline[0],
        "select customer_id, store_revenue, web_revenue, click_and_collect_revenue from marts.dim_customers",
    ):
        assert min(amounts) >= 0, customer
        if any(amounts):  # the customer stands for the person most of their records belong to
            person = records[customer].most_common(1)[0][0] if records[customer] else customer
            for channel, amount in zip(REVENUE_CHANNELS, amounts, strict=True):
                mart[person][channel] += amount
    assert all(amount >= 0 for by_channel in true.values() for amount in by_channel.values())
    for channel in REVENUE_CHANNELS:
        assert sum(m[channel] for m in mart.values()) == sum(t[channel] for t in true.values()), channel
    people = set(true) | set(mart)
    differ = [p for p in people if any(mart[p][c] != true[p][c] for c in REVENUE_CHANNELS)]
    assert len(differ) <= RATE_TOLERANCE * len(people), differ[:5]


def test_net_revenue_per_period_and_channel_matches_truth_exactly(pipeline, truth) -> None:
    """mart_net_revenue from the journeys: a sale in its month and channel, a till return in the
    month of the return and the channel of the sale it returns; the identified part is that of the
    sales whose record carries an identity, and of their returns. Every generated return names a
    sale of the data: none is unattributed, and the lines add up to the net revenue."""
    sales = {e.record: e for e in truth if e.event in SALE_EVENTS}
    expected: dict[tuple[date, str], list] = defaultdict(lambda: [0, Decimal(0), 0, Decimal(0), Decimal(0)])
    for e in truth:
        if e.event not in (*SALE_EVENTS, "store_return"):
            continue
        sale = e if e.event in SALE_EVENTS else sale_returned(e, sales)
        assert sale is not None, e.record
        row = expected[(e.month, sale.channel)]
        if e.event == "store_return":
            row[2] += 1
            row[3] += e.amount
        else:
            row[0] += 1
            row[1] += e.amount
        row[4] += e.amount if sale.observable else 0
    mart = {
        (r[0], r[1]): list(r[2:])
        for r in query(
            pipeline[0],
            "select period_start, channel, sales, gross_sales_amount + refunded_amount, attributed_returns,"
            " attributed_returns_amount, identified_net_revenue, unattributed_returns, net_revenue"
            " from marts.mart_net_revenue",
        )
    }
    for key, (n_sales, sold, n_returns, returned, identified, unattributed, net) in mart.items():
        assert unattributed == 0, key
        assert net == sold + returned, key
        assert [n_sales, sold, n_returns, returned, identified] == expected.pop(key), key
    assert not expected  # no month and channel of the truth missing from the mart


def test_repeat_contact_rate_matches_truth(pipeline, interactions) -> None:
    contacts: dict[str, list[datetime]] = defaultdict(list)
    for e in interactions:
        if e.event == "service_contact":
            contacts[e.person].append(e.at)
    repeats = total = 0
    for times in contacts.values():
        times.sort()
        total += len(times)
        repeats += sum(b - a <= timedelta(days=7) for a, b in itertools.pairwise(times))
    ((contacts_n, repeat_n),) = query(
        pipeline[0],
        "select sum(contacts), sum(repeat_contacts) from marts.mart_service_contacts",
    )
    assert contacts_n == total
    assert repeat_n / contacts_n == pytest.approx(repeats / total, abs=RATE_TOLERANCE)


def test_checkout_funnel_counts_match_truth(pipeline, truth) -> None:
    """Every web session is exported, identified or not: sessions, carts and orders add up over
    devices and months to the generator's counts exactly. Per month, the truth dates a session
    when the visit began and the export at its first event, a minute or two later: a session
    begun just before midnight on a month's last day may fall in the next month."""
    expected: dict[date, Counter] = defaultdict(Counter)
    for e in truth:
        if e.event == "web_session":
            expected[e.month]["sessions"] += 1
            expected[e.month]["carts"] += e.detail["cart"] == "1" or e.detail["purchase"] == "1"
            expected[e.month]["orders"] += e.detail["purchase"] == "1"
    mart = {
        r[0]: Counter(sessions=r[1], carts=r[2], orders=r[3])
        for r in query(
            pipeline[0],
            "select period_start, sum(sessions), sum(cart_sessions), sum(order_sessions) "
            "from marts.mart_checkout_funnel group by 1",
        )
    }
    assert sum(mart.values(), Counter()) == sum(expected.values(), Counter())
    for month, counts in expected.items():
        for step, n in counts.items():
            assert abs(mart.get(month, Counter())[step] - n) <= max(2, 0.01 * n), (month, step)


def test_web_to_store_rate_matches_truth(pipeline, interactions) -> None:
    by_person: dict[str, list[Event]] = defaultdict(list)
    for e in interactions:
        by_person[e.person].append(e)
    purchases = prepared = 0
    for events in by_person.values():
        visits = [e.at for e in events if e.event == "web_session"]
        for e in events:
            if e.event == "store_purchase":
                purchases += 1
                prepared += any(e.at - timedelta(days=7) <= v < e.at for v in visits)
    ((n, p),) = query(
        pipeline[0],
        "select sum(purchases), sum(prepared_in_other_channel) from marts.mart_cross_channel_purchases"
        " where direction = 'web_to_store'",
    )
    assert n == purchases
    assert p / n == pytest.approx(prepared / purchases, abs=RATE_TOLERANCE)


@dataclass(frozen=True)
class Step:
    at: datetime
    channel: str
    sold_at: datetime | None  # when the step's sale was made, if it made one


def _count_close(count: int, true_count: int) -> bool:
    """A count per customer journey within the per-customer tolerance, or within 5 where it is small."""
    return abs(count - true_count) <= max(5, MEAN_TOLERANCE * true_count)


@pytest.fixture(scope="module")
def journey_steps(truth: list[Event]) -> dict[str, list[Step]]:
    """Each person's observable journey steps in time order, as the journey marts define them: a
    web session with the order it placed is one step on the order's channel; every other
    interaction is a step of its own. The generator writes an order minutes after its session
    begins, from its checkout: the session that placed it is the person's latest purchasing
    session begun before it. An order whose session is anonymous is a step of its own."""
    by_person: dict[str, list[Event]] = defaultdict(list)
    for e in truth:
        if e.channel != "survey":
            by_person[e.person].append(e)
    journeys = {}
    for person, events in by_person.items():
        events.sort(key=lambda e: e.at)
        checkouts = [e for e in events if e.event == "web_session" and e.detail["purchase"] == "1"]
        steps: dict[str, Step] = {}
        for e in (e for e in events if e.observable):
            if e.event == "web_order":
                session = [s for s in checkouts if s.at <= e.at][-1]
                if session.observable:
                    steps[session.record] = Step(session.at, e.channel, e.at)
                else:
                    steps[e.record] = Step(e.at, e.channel, e.at)
            elif e.event == "web_session":
                steps.setdefault(e.record, Step(e.at, "web", None))
            else:
                sold_at = e.at if e.event == "store_purchase" else None
                steps[f"{e.event}:{e.record}"] = Step(e.at, e.channel, sold_at)
        journeys[person] = sorted(steps.values(), key=lambda s: s.at)
    return journeys


def test_channel_transitions_between_steps_match_truth(pipeline, journey_steps) -> None:
    """A click & collect checkout is one step, not a web visit and a switch: counted per
    touchpoint, web → click_and_collect was 1.6 times the truth on the 10,000-customer sample. A
    person split in two loses the transitions between the fragments: per-customer tolerance."""
    expected = Counter(
        (a.channel, b.channel) for steps in journey_steps.values() for a, b in itertools.pairwise(steps)
    )
    mart = dict(
        ((row[0], row[1]), row[2])
        for row in query(
            pipeline[0], "select from_channel, to_channel, transitions from marts.mart_channel_transitions"
        )
    )
    assert expected[("web", "click_and_collect")] > 0
    for pair in set(expected) | set(mart):
        assert _count_close(mart.get(pair, 0), expected[pair]), pair


def test_purchase_paths_match_truth(pipeline, journey_steps) -> None:
    """Every identified sale has a path (exact); each path's purchases within the per-customer
    tolerance: a session that places a click & collect order is ``click_and_collect``, not
    ``web > click_and_collect``."""
    expected: Counter[str] = Counter()
    for steps in journey_steps.values():
        for i, step in enumerate(steps):
            if step.sold_at is not None:
                since = step.sold_at - timedelta(days=30)
                channels = [s.channel for s in steps[: i + 1] if s.at >= since]
                expected[" > ".join(c for k, c in enumerate(channels) if k == 0 or c != channels[k - 1])] += 1
    mart = dict(query(pipeline[0], "select path, purchases from marts.mart_purchase_paths"))
    assert sum(mart.values()) == sum(expected.values())
    assert expected["click_and_collect"] > 0
    for path in set(expected) | set(mart):
        assert _count_close(mart.get(path, 0), expected[path]), path


def test_retention_new_customers_and_point_in_time_segments_match_truth(pipeline, interactions) -> None:
    """The retention definitions recomputed from the journeys: new = first purchase in all the
    loaded history, period-over-period retention of last month's buyers, and the 12-month
    retention (buyers of months -24 to -13 who buy again in the last 12), each by the segment the
    customer had at the end of its base period (omnichannel once bought in store and online)."""
    buyers: dict[date, set[str]] = defaultdict(set)
    channels: dict[tuple[date, str], set[str]] = defaultdict(set)
    for e in interactions:
        if e.event in ("store_purchase", "web_order"):
            buyers[e.month].add(e.person)
            channels[(e.month, e.person)].add("store" if e.channel == "store" else "online")
    months = sorted(buyers)
    first: dict[str, date] = {}
    segment: dict[tuple[date, str], str] = {}  # (month, person) -> segment at the end of the month
    seen: dict[str, set[str]] = defaultdict(set)
    for month in months:
        for person in buyers[month]:
            first.setdefault(person, month)
            seen[person] |= channels[(month, person)]
            segment[(month, person)] = "omnichannel" if len(seen[person]) == 2 else "single_channel"
    mart = {
        (row[0], row[1]): row[2:]
        for row in query(
            pipeline[0],
            "select period_start, 'all', active_customers, new_customers, cohort_retention_rate, "
            "retention_base_12m, retention_rate_12m from marts.mart_retention union all "
            "select period_start, segment, active_customers, new_customers, cohort_retention_rate, "
            "retention_base_12m, retention_rate_12m from marts.mart_retention_by_segment",
        )
    }
    checked_12m = 0
    for i, month in enumerate(months):
        active, new, cohort_rate, base_12m, rate_12m = mart[(month, "all")]
        assert abs(active - len(buyers[month])) <= MEAN_TOLERANCE * len(buyers[month]), month
        true_new = sum(first[p] == month for p in buyers[month])
        # A split fragment of an old customer buying for the first time counts as new: the error
        # grows with the month's buyers, not with its new customers.
        assert abs(new - true_new) <= max(3, 2 * RATE_TOLERANCE * len(buyers[month])), month
        if i > 0 and months[i - 1] == _months_back(month, 1):
            before = buyers[months[i - 1]]
            true_rate = len(before & buyers[month]) / len(before)
            assert cohort_rate == pytest.approx(true_rate, abs=RATE_TOLERANCE * 2), month
        base_months = [m for m in months if _months_back(month, 23) <= m <= _months_back(month, 12)]
        base = {p for m in base_months for p in buyers[m]}
        assert abs(base_12m - len(base)) <= MEAN_TOLERANCE * max(len(base), 10), month
        if base:
            last_year = {p for m in months if _months_back(month, 11) <= m <= month for p in buyers[m]}
            assert rate_12m == pytest.approx(len(base & last_year) / len(base), abs=RATE_TOLERANCE * 2)
            checked_12m += 1
        # Point in time: each segment counts the month's buyers by what they had done by its end.
        for name in ("omnichannel", "single_channel"):
            true_count = sum(segment[(month, p)] == name for p in buyers[month])
            assert abs(mart[(month, name)][0] - true_count) <= max(3, MEAN_TOLERANCE * true_count), month
    assert checked_12m >= 3
    rates = [v for v in mart.values() for v in (v[2], v[4]) if v is not None]
    assert rates and all(0 <= r <= 1 for r in rates)


def test_retention_among_repeat_buyers_matches_truth(pipeline, interactions) -> None:
    """12-month retention among the base customers who had bought twice or more by the end of the
    base year, per segment as at that end: the omnichannel vs single-channel comparison without
    the selection (nobody is omnichannel without two purchases). Retention tolerance, on bases of
    10 customers or more (below, one customer moves the rate by more than a tenth)."""
    orders: dict[str, list[tuple[date, str]]] = defaultdict(list)
    for e in interactions:
        if e.event in ("store_purchase", "web_order"):
            orders[e.person].append((e.month, "store" if e.channel == "store" else "online"))
    rows = query(
        pipeline[0],
        "select period_start, segment, repeat_buyer_retention_base_12m, repeat_buyer_retention_rate_12m "
        "from marts.mart_retention_by_segment",
    )
    checked = 0
    for month, segment, base_n, rate in rows:
        first, last = _months_back(month, 23), _months_back(month, 12)
        base = retained = 0
        for bought in orders.values():
            by_end = [channel for m, channel in bought if m <= last]
            if len(by_end) < 2 or not any(first <= m <= last for m, _ in bought):
                continue
            if ("omnichannel" if len(set(by_end)) == 2 else "single_channel") == segment:
                base += 1
                retained += any(last < m <= month for m, _ in bought)
        assert abs(base_n - base) <= max(3, MEAN_TOLERANCE * base), (month, segment)
        if base >= 10:
            assert rate == pytest.approx(retained / base, abs=2 * RATE_TOLERANCE), (month, segment)
            checked += 1
    assert checked > 0


def test_verbatim_theme_mentions_match_the_themes_the_generator_wrote(pipeline, truth) -> None:
    expected = Counter(
        THEMES[theme]
        for e in truth
        if e.event == "survey_response"
        for theme in filter(None, e.detail["themes"].split("|"))
    )
    mart = dict(query(pipeline[0], "select theme, mentions from marts.mart_verbatim_themes"))
    assert mart == dict(expected)


def _exported(landing: Path, folder: str, prefix: str, key: str) -> dict[str, dict[str, str]]:
    """The records of an export (every delivered file, the latest delivery of a record winning),
    by ``key``: what links a ticket or an answer to the order it is about is in the export, not in
    the generator's journeys."""
    records: dict[str, dict[str, str]] = {}
    for path in sorted((landing / folder).glob(f"{prefix}_*.csv")):
        with path.open(encoding="utf-8-sig", newline="") as f:
            records |= {r[key]: r for r in csv.DictReader(f)}
    return records


def test_cost_per_order_allocates_each_cost_to_the_channel_of_its_sale(pipeline, generated, truth) -> None:
    """mart_cost_per_order from the journeys: every interaction priced with the seed (as the total
    cost test does) and counted in the channel of the sale it serves: a ticket in the channel of
    the order it names (``order_ref`` of the CRM export), whatever its contact channel; a till
    return in the channel of the sale it returns; a survey answer in that of the order it rates,
    else of the ticket it rates; a ticket naming no order, and its survey, on the service line.
    Orders are the month's sales. Per month, web visits are dated at the visit's start in the
    truth and at its first event in the export (a session begun just before midnight on a month's
    last day falls in the next month): the web line may differ by two visits' cost; every other
    line, and the channel totals over all months, match exactly."""
    with (DBT_PROJECT_DIR / "seeds" / "interaction_unit_costs.csv").open(encoding="utf-8") as f:
        cost = {r["interaction"]: Decimal(r["unit_cost_eur"]) for r in csv.DictReader(f)}
    tickets = _exported(generated.landing, "crm", "tickets", "ticket_id")
    answers = _exported(generated.landing, "survey", "responses", "response_id")
    sales = {e.record: e for e in truth if e.event in SALE_EVENTS}

    def channel_of_order(order_id: str | None) -> str | None:
        return sales[order_id].channel if order_id in sales else None

    def channel_of_ticket(ticket_id: str) -> str:
        return channel_of_order(tickets[ticket_id]["order_ref"]) or "service"

    expected: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
    orders: Counter[tuple[date, str]] = Counter()
    moved = 0  # tickets counted in the channel of their order rather than in service
    for e in truth:
        key = (e.month, e.channel)
        if e.event == "web_session":
            expected[key] += cost["web_visit"] + (cost["web_cart"] if e.detail["cart"] == "1" else 0)
        elif e.event in SALE_EVENTS:
            orders[key] += 1
            if e.event == "store_purchase":
                expected[key] += cost["store_sale"]
                continue
            cc = e.channel == "click_and_collect"
            expected[key] += cost["click_and_collect_order" if cc else "web_home_delivery_order"]
            if Decimal(e.detail.get("refunded", "0")) > 0:
                expected[key] += cost["click_and_collect_refund" if cc else "web_refund"]
        elif e.event == "pickup":
            expected[key] += cost["click_and_collect_pickup"]
        elif e.event == "store_return":
            sale = sale_returned(e, sales)
            expected[(e.month, sale.channel if sale else "store")] += cost["store_return"]
        elif e.event == "service_contact":
            contact = e.detail["contact_channel"]
            expected[(e.month, channel_of_ticket(e.record))] += cost[f"service_{contact}"]
            moved += channel_of_ticket(e.record) != "service"
        elif e.event == "survey_response":
            answer = answers[e.record]
            channel = channel_of_order(answer["order_ref"]) or (
                channel_of_ticket(answer["ticket_ref"]) if answer["ticket_ref"] else None
            )
            assert channel is not None, e.record  # every generated answer rates an order or a ticket
            expected[(e.month, channel)] += cost["survey_response"]
    mart = {
        (r[0], r[1]): r[2:]
        for r in query(
            pipeline[0],
            "select period_start, channel, cost_eur, orders, cost_per_order, is_unallocated"
            " from marts.mart_cost_per_order",
        )
    }
    assert moved > 0 and set(mart) == set(expected) | set(orders)
    assert any(channel == "service" for _, channel in mart)  # tickets about no order: their own line
    visit = cost["web_visit"] + cost["web_cart"]
    for key, (cost_eur, n_orders, per_order, unallocated) in mart.items():
        room = 2 * visit if key[1] == "web" else 0
        assert abs(cost_eur - expected[key]) <= room, key
        assert n_orders == orders[key], key
        assert unallocated == (key[1] == "service"), key
        if n_orders:
            assert per_order == pytest.approx(float(cost_eur) / n_orders, abs=0.005), key
        else:
            assert per_order is None, key
    for channel in ("store", "web", "click_and_collect", "service"):
        assert sum(v[0] for k, v in mart.items() if k[1] == channel) == sum(
            v for k, v in expected.items() if k[1] == channel
        ), channel


def test_satisfaction_per_store_matches_truth_exactly(pipeline, generated, truth) -> None:
    """The store level of mart_satisfaction: the answers about a till purchase or a click &
    collect pickup, per store the journeys name, give the same counts, NPS, CSAT and CES; a
    store's row is reliable when each measure it has rests on 30 answers or more."""
    with (generated.truth / "journeys.csv").open(encoding="utf-8") as f:
        store_of = {r["source_record_id"]: r["store_code"] for r in csv.DictReader(f)}
    about_a_store = ("store_purchase", "click_and_collect_pickup")
    by_store: dict[str, list[dict[str, str]]] = defaultdict(list)
    for e in truth:
        if e.event == "survey_response" and e.detail["touchpoint"] in about_a_store:
            by_store[store_of[e.record]].append(e.detail)
    mart = {
        r[0]: r[1:]
        for r in query(
            pipeline[0],
            "select segment, responses, nps_responses, nps, csat, ces_responses, ces_mean, is_reliable"
            " from marts.mart_satisfaction where level = 'store'",
        )
    }
    assert "" not in by_store and set(mart) == set(by_store)
    for store, answers in by_store.items():
        scores = {m: [int(a[m]) for a in answers if a[m] != "None"] for m in ("nps", "csat", "ces")}
        responses, nps_n, nps_value, csat, ces_n, ces_mean, is_reliable = mart[store]
        assert (responses, nps_n, ces_n) == (len(answers), len(scores["nps"]), len(scores["ces"])), store
        assert nps_value == nps(scores["nps"]), store
        assert csat == round(100 * sum(s >= 4 for s in scores["csat"]) / len(scores["csat"]), 1), store
        if scores["ces"]:
            assert ces_mean == pytest.approx(statistics.mean(scores["ces"]), abs=0.005), store
        enough = all(not s or len(s) >= 30 for s in scores.values()) and len(answers) >= 30
        assert is_reliable == enough, store


def test_net_revenue_ht_beside_ttc_per_line_category(pipeline) -> None:
    """mart_net_revenue without VAT: per period and channel, merchandise and shipping each carry a
    TTC equal to their HT x (1 + VAT) for a VAT between the seed's lowest and highest rate (a mix
    of universes), to the rounding of half a cent per order line and per order; HT and TTC add up,
    and the VAT is their difference. The TTC columns themselves match the truth (test above)."""
    with (DBT_PROJECT_DIR / "seeds" / "vat_rates.csv").open(encoding="utf-8") as f:
        rates = [Decimal(r["vat_rate"]) for r in csv.DictReader(f)]
    lines = {
        (r[0], r[1]): r[2]
        for r in query(
            pipeline[0],
            "select date_trunc('month', timezone('Europe/Paris', o.ordered_at))::date, o.revenue_channel,"
            " count(l.order_id) + count(distinct o.order_id) from marts.fct_orders o"
            " left join marts.fct_order_lines l on l.order_id = o.order_id group by all",
        )
    }
    rows = query(
        pipeline[0],
        "select period_start, channel, net_revenue, net_revenue_ht, vat_amount, net_merchandise_revenue,"
        " net_merchandise_revenue_ht, shipping_revenue, shipping_revenue_ht from marts.mart_net_revenue",
    )
    assert rows
    for period, channel, net, net_ht, vat, merchandise, merchandise_ht, shipping, shipping_ht in rows:
        assert net_ht + vat == net and merchandise + shipping == net, (period, channel)
        assert merchandise_ht + shipping_ht == net_ht, (period, channel)
        rounding = Decimal("0.005") * (1 + max(rates)) * lines[(period, channel)]
        for ttc, ht in ((merchandise, merchandise_ht), (shipping, shipping_ht)):
            low, high = sorted((ht * (1 + min(rates)), ht * (1 + max(rates))))
            assert low - rounding <= ttc <= high + rounding, (period, channel, ttc, ht)
    assert sum(r[4] for r in rows) > 0  # VAT was taken off
