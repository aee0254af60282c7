"""Simulate each person's omnichannel journey and write what every source system would export.

Persons are simulated one household at a time and their rows streamed to the export writers, so
memory stays flat whatever the population size. One random stream drives everything, so a seed (and
the same options) always gives byte-identical files.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from zoneinfo import ZoneInfo

from orchestration.exports import crm, ecommerce, pos, survey
from orchestration.exports.spec import ExportTable
from orchestration.generate.noise import Messiness, Noise, ascii_slug
from orchestration.generate.people import Person, Population
from orchestration.generate.reference import addresses, retailer
from orchestration.generate.writers import ExportWriter, TruthWriter

PARIS = ZoneInfo("Europe/Paris")
UTC = ZoneInfo("UTC")
DEFAULT_END_DATE = date(2026, 10, 31)
ID_BLOCK = 10**7  # ids of shard k start at k * ID_BLOCK


@dataclass(frozen=True)
class Product:
    sku: str
    title: str
    brand: str
    universe: str
    category: str
    price: float


Account = tuple[str, str | None, datetime]


@dataclass(frozen=True)
class Lifecycle:
    """How the population lives: when people become customers and when they stop.

    A retailer's first extract carries years of history, gains customers every month and loses
    others; a population that exists in full on the first day, with no purchase before it, makes
    every early purchase look like a new customer and no customer ever lapse.

    - ``history_days``: days simulated before the period, written to the ``_initial`` files (the
      historical extract a platform receives on its first day); two years by default, so that a
      12-month retention (customers of the year before last who bought again last year) is
      measured on every month of the period;
    - ``yearly_churn``: hazard of lapsing, per year (a customer stops buying and interacting for
      good; 0.35 is an attrition of 1 - e^-0.35 = 30 % a year, the order of magnitude retail
      loyalty studies give for specialist retailers).
    Arrivals are spread evenly over history and period, at the rate that keeps the number of
    active customers steady: a share 1 / (1 + churn x years simulated) of the persons are already
    customers when the history starts, the others arrive uniformly after it.

    ``Lifecycle(0, 0.0)`` is the fixed population of the generator before issue 17: everyone
    active over the whole period, nothing before it (with ``realism=0``, the same files byte for
    byte as the generator before issue 16).
    """

    history_days: int = 730
    yearly_churn: float = 0.35

    @property
    def fixed(self) -> bool:
        return self.history_days == 0 and self.yearly_churn == 0


FIXED_POPULATION = Lifecycle(0, 0.0)
DEFAULT_LIFECYCLE = Lifecycle()


@dataclass
class GenerationStats:
    persons: int = 0
    households: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    identity_records: int = 0
    journey_events: int = 0
    seconds: float = 0.0


def _poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method for small means, normal approximation above."""
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _clamp(value: float, low: int, high: int) -> int:
    return max(low, min(high, round(value)))


def build_catalogue(rng: random.Random, n_products: int = 3500, n_brands: int = 250) -> list[Product]:
    brands: list[str] = []
    while len(brands) < n_brands:
        name = rng.choice(retailer.BRAND_SYLLABLES_A) + rng.choice(retailer.BRAND_SYLLABLES_B)
        if rng.random() < 0.2:
            name += rng.choice([" & Fils", " Cuisine", " Paris", " Atelier", " Maison"])
        if name not in brands:
            brands.append(name)
    universe_weights = {
        "ustensiles": 35,
        "cuisine pratique": 25,
        "épicerie fine": 20,
        "enfants": 8,
        "livres de cuisine": 12,
    }
    universes = list(universe_weights)
    cum = list(accumulate(universe_weights.values()))
    products = []
    for i in range(n_products):
        universe = rng.choices(universes, cum_weights=cum)[0]
        category, nouns, qualifiers, variants, low, high = rng.choice(retailer.UNIVERSES[universe])
        title = " ".join(x for x in (rng.choice(nouns), rng.choice(qualifiers), rng.choice(variants)) if x)
        price = round(math.exp(rng.uniform(math.log(low), math.log(high))), 1) - 0.01
        products.append(
            Product(f"{100000 + i * 7:07d}", title, rng.choice(brands), universe, category, price)
        )
    return products


class Simulation:
    """Holds the writers and counters; ``run`` simulates the whole population."""

    def __init__(
        self,
        out_dir: Path,
        truth_dir: Path,
        seed: int,
        days: int,
        end_date: date,
        messiness: Messiness,
        shard: int = 0,
        first_person: int = 0,
        shards: int = 1,
        lifecycle: Lifecycle = FIXED_POPULATION,
        daily_days: int = 0,
        gzip: bool = False,
    ) -> None:
        # Each shard has its own random stream; the catalogue and stores come from a stream of
        # their own, so every shard sees the same ones.
        self.rng = random.Random(f"{seed}/{shard}")
        self.shard = shard
        self.noise = Noise(self.rng, messiness)
        self.rates = messiness
        self.end = datetime.combine(end_date, datetime.min.time()) + timedelta(days=1) - timedelta(seconds=1)
        self.start = datetime.combine(end_date - timedelta(days=days - 1), datetime.min.time())
        self.lifecycle = lifecycle
        # The first instant simulated: history before the period goes to the ``_initial`` files.
        self.first = self.start - timedelta(days=lifecycle.history_days)
        # The person being simulated is a customer from active_from to active_until.
        self.active_from, self.active_until = self.start, self.end
        self.out_dir = out_dir
        # The last ``daily_days`` days go to one file per day (``ExportWriter``), the rest per month.
        self.daily_from = end_date - timedelta(days=daily_days - 1) if daily_days > 0 else None
        self.gzip = gzip  # landing files gzip-compressed (``ExportWriter``); truth stays plain
        self.writers: dict[str, ExportWriter] = {}
        self.truth_ids = TruthWriter(
            truth_dir / "identities.csv", ["source_system", "source_record_id", "person_id"]
        )
        self.truth_persons = TruthWriter(
            truth_dir / "persons.csv",
            [
                "person_id",
                "household_id",
                "first_name",
                "last_name",
                "maiden_name",
                "birth_date",
                "emails",
                "phone",
                "postcode",
                "city",
                "moved_to_postcode",
                "segment",
                "active_from",
                "active_until",
            ],
        )
        self.truth_journeys = TruthWriter(
            truth_dir / "journeys.csv",
            [
                "person_id",
                "event_at_utc",
                "channel",
                "event",
                "source_system",
                "source_record_id",
                "amount_eur",
                "store_code",
                "detail",
            ],
        )
        self.counters: dict[str, int] = {}
        reference_rng = random.Random(f"{seed}/reference")
        self.catalogue = build_catalogue(reference_rng)
        self.product_cum = list(accumulate(1.0 / (i + 1) ** 0.8 for i in range(len(self.catalogue))))
        self.stores = self._stores(reference_rng)
        self.population = Population(
            self.rng, self.start, self.end, len(self.stores), shard, first_person, shards
        )
        # State of the person being simulated.
        self.contacts: list[tuple[str, str | None]] = []  # (contact_id, loyalty card)
        # Web accounts, oldest first: (customer_id, login e-mail or None for a phone-only one, created).
        self.accounts: list[Account] = []
        self.extra_accounts = 0  # accounts to open after the first (``plan_extra_accounts``)
        self.identified_visitors: set[str] = set()

    # -- helpers ---------------------------------------------------------------------------

    def writer(self, spec: ExportTable) -> ExportWriter:
        if spec.table not in self.writers:
            self.writers[spec.table] = ExportWriter(
                spec, self.out_dir, self.start.date(), self.daily_from, self.gzip
            )
        return self.writers[spec.table]

    def next_id(self, name: str) -> int:
        """Sequence number unique across shards: each shard numbers from its own block."""
        self.counters[name] = self.counters.get(name, 0) + 1
        return self.shard * ID_BLOCK + self.counters[name]

    def random_time(self, after: datetime | None = None, before: datetime | None = None) -> datetime:
        """A uniform instant between ``after`` and ``before``, by default while the person is a customer."""
        lo = after or self.active_from
        hi = before or self.active_until
        return lo + timedelta(seconds=self.rng.random() * max((hi - lo).total_seconds(), 1))

    def store_hours(self, day: datetime) -> datetime:
        minutes = self.rng.randint(9 * 60 + 30, 19 * 60 + 20)
        return day.replace(hour=minutes // 60, minute=minutes % 60, second=self.rng.randrange(60))

    def identity(self, source_system: str, record_id: str, person: Person) -> None:
        self.truth_ids.write(source_system, record_id, person.person_id)

    def journey(
        self,
        person: Person,
        at: datetime,
        channel: str,
        event: str,
        source: str,
        record_id: str,
        amount: float | None = None,
        store: str = "",
        detail: str = "",
    ) -> None:
        utc = at.replace(tzinfo=PARIS).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.truth_journeys.write(
            person.person_id,
            utc,
            channel,
            event,
            source,
            record_id,
            "" if amount is None else f"{amount:.2f}",
            store,
            detail,
        )

    def products(self, k: int) -> list[Product]:
        return self.rng.choices(self.catalogue, cum_weights=self.product_cum, k=k)

    def other_email(self, person: Person) -> str:
        """Which of the person's addresses a system got: usually the main one."""
        if len(person.emails) > 1 and self.noise.chance(self.rates.other_email):
            return self.rng.choice(person.emails[1:])
        return person.emails[0]

    def _stores(self, rng: random.Random) -> list[tuple[str, str, str, str]]:
        """The chain's stores; master data is written by shard 0 only."""
        stores = []
        for i, city_index in enumerate(addresses.STORE_CITY_INDEXES):
            city, postcode, _ = addresses.CITIES[city_index]
            code = f"M{i + 1:03d}"
            email = f"magasin.{ascii_slug(city).replace('-', '')}@{retailer.RETAILER_DOMAIN}"
            phone = f"0{rng.randint(1, 5)} {rng.randrange(10**8):08d}"
            opened = date(2005, 1, 1) + timedelta(days=rng.randrange(6000))
            address = f"{rng.randint(1, 90)} rue {rng.choice(addresses.STREET_NAMES)}"
            if self.shard == 0:
                row = (code, f"Batterie & Co {city}", address, postcode, city, email, phone, opened)
                self.writer(pos.STORES).write(None, row)
            stores.append((code, city, email, phone))
        return stores

    # -- main loop -------------------------------------------------------------------------

    def run(self, n_persons: int) -> GenerationStats:
        started = time.perf_counter()
        if self.shard == 0:
            w = self.writer(ecommerce.PRODUCTS)
            for p in self.catalogue:
                w.write(None, (p.sku, p.title, p.brand, p.universe, p.category, p.price))
        done = 0
        while done < n_persons:
            household = self.population.household()[: n_persons - done]
            for person in household:
                self.simulate(person)
            done += len(household)
        for writer in self.writers.values():
            writer.close()
        for truth in (self.truth_ids, self.truth_persons, self.truth_journeys):
            truth.close()
        return GenerationStats(
            persons=done,
            households=self.population.households,
            rows={t: w.rows for t, w in self.writers.items()},
            identity_records=self.truth_ids.rows,
            journey_events=self.truth_journeys.rows,
            seconds=time.perf_counter() - started,
        )

    def lifetime(self) -> tuple[datetime, datetime]:
        """When the person is a customer, within what is simulated (see ``Lifecycle``)."""
        if self.lifecycle.fixed:
            return self.start, self.end
        rng, churn = self.rng, self.lifecycle.yearly_churn
        simulated = self.end - self.first
        years = simulated.total_seconds() / (365.25 * 86400)
        if rng.random() < 1 / (1 + churn * years):
            joined = self.first  # already a customer when the history starts
        else:
            joined = self.first + simulated * rng.random()
        if churn <= 0:
            return joined, self.end
        lapses = joined + timedelta(days=365.25 * rng.expovariate(churn))
        return joined, min(lapses, self.end)

    def simulate(self, person: Person) -> None:
        rng = self.rng
        self.active_from, self.active_until = self.lifetime()
        years = (self.active_until - self.active_from).total_seconds() / (365.25 * 86400)
        # Accounts and cards of a customer who was one before anything simulated date from earlier
        # years; a newcomer opens them on arrival.
        before = self.active_from if self.active_from > self.first else None
        self.extra_accounts = self.plan_extra_accounts(person) if person.uses_web else 0
        new = person.new_address
        self.truth_persons.write(
            person.person_id,
            person.household_id,
            person.first_name,
            person.last_name,
            person.maiden_name or "",
            person.birth_date.isoformat(),
            "|".join(person.emails),
            person.phone,
            person.address.postcode,
            person.address.city,
            new.postcode if new else "",
            person.segment,
            self.active_from.isoformat(timespec="seconds"),
            self.active_until.isoformat(timespec="seconds") if self.active_until < self.end else "",
        )
        self.contacts = []
        self.accounts = []
        self.identified_visitors = set()
        # Web accounts and loyalty cards: most existed before the window, some start within it.
        if person.uses_web and rng.random() < 0.4:
            self.create_account(person, before or self.first - timedelta(days=rng.randrange(1, 3 * 365)))
        joins_at_first_visit = False
        if person.uses_store and rng.random() < 0.6:
            if rng.random() < 0.7:
                self.create_contact(
                    person, before or self.first - timedelta(days=rng.randrange(1, 3 * 365)), True
                )
            else:
                joins_at_first_visit = True

        visits = sorted(self.random_time() for _ in range(_poisson(rng, person.store_rate * years)))
        for at in visits:
            if joins_at_first_visit and not self.card:
                self.create_contact(person, self.store_hours(at), with_card=True)
            self.store_visit(person, self.store_hours(at))
        for at in sorted(self.random_time() for _ in range(_poisson(rng, person.web_rate * years))):
            self.web_session(person, at)
        for _ in range(_poisson(rng, person.service_rate * years)):
            self.service_contact(
                person,
                self.random_time(),
                rng.choices(
                    retailer.SERVICE_CATEGORIES, weights=[w for _, _, w in retailer.SERVICE_CATEGORIES]
                )[0][0],
                None,
            )

    @property
    def card(self) -> str | None:
        return next((card for _, card in self.contacts if card), None)

    # -- CRM -------------------------------------------------------------------------------

    def create_contact(
        self,
        person: Person,
        at: datetime,
        with_card: bool,
        email: str | None = None,
        phone: str | None = None,
    ) -> str:
        rng, noise = self.rng, self.noise
        contact_id = str(50_000 + self.next_id("contact"))
        card = f"290{self.next_id('card') * 7919 % 10**10:010d}" if with_card else None
        last = (
            person.maiden_name
            if person.maiden_name and noise.chance(self.rates.maiden_name)
            else person.last_name
        )
        first, last = noise.first_name(person.first_name), last
        if noise.chance(self.rates.swap_names):
            first, last = last, first
        address = person.address_at(at)
        if person.new_address is not None and rng.random() < 0.5:
            address = person.address_at(self.end)  # the contact was updated after the move
        has_address = not noise.chance(self.rates.address_missing)
        points = rng.randrange(0, 2500) if card else None
        tier = None if points is None else ("or" if points > 1500 else "argent" if points > 600 else "bronze")
        row = (
            contact_id,
            noise.email(email or self.other_email(person)),
            noise.text(first),
            noise.text(last),
            phone or (None if noise.chance(self.rates.phone_missing) else noise.phone(person.phone)),
            None if noise.chance(self.rates.birth_date_missing) else noise.birth_date(person.birth_date),
            noise.street(address.number, address.street_type, address.abbreviation, address.street_name)
            if has_address
            else None,
            address.postcode if has_address else None,
            noise.text(address.city) if has_address else None,
            card,
            points,
            tier,
            self.stores[person.home_store][0] if card else None,
            rng.choice(list(retailer.UNIVERSES)) if rng.random() < 0.5 else None,
            at,
            min(self.end, at + timedelta(days=rng.randrange(0, 400))),
            None,  # address2: the sample's CRM keeps one street line
        )
        self.writer(crm.CONTACTS).write(at, row)
        self.identity("crm_contacts", contact_id, person)
        self.contacts.append((contact_id, card))
        # Consents stated at sign-up, and sometimes changed later (latest statement wins).
        consent_writer = self.writer(crm.CONSENTS)
        for channel, p_granted in (("email", 0.6), ("sms", 0.35), ("post", 0.2)):
            statements = [(at, rng.random() < p_granted)]
            if rng.random() < 0.15:
                later = self.random_time(after=max(at, self.active_from))
                statements.append((later, not statements[0][1]))
            for stated_at, granted in statements:
                consent_id = f"CS{self.next_id('consent'):09d}"
                consent_writer.write(
                    stated_at,
                    (
                        consent_id,
                        contact_id,
                        channel,
                        "granted" if granted else "withdrawn",
                        stated_at,
                        rng.choice(["store", "web", "service", "campaign"]),
                    ),
                )
        # Some members sign up twice (another e-mail, no card).
        if with_card and rng.random() < 0.04 and len(person.emails) > 1:
            self.create_contact(
                person,
                self.random_time(after=max(at, self.active_from)),
                with_card=False,
                email=person.emails[-1],
            )
        return contact_id

    # -- Store -----------------------------------------------------------------------------

    def store_visit(self, person: Person, at: datetime) -> None:
        rng = self.rng
        store_index = person.home_store if rng.random() < 0.85 else rng.randrange(len(self.stores))
        store_code, _, store_email, _ = self.stores[store_index]
        # Web-to-store: a web visit looking at what is then bought in store.
        items = self.products(1 + _poisson(rng, 1.2))
        if person.uses_web and rng.random() < 0.3:
            self.web_session(person, at - timedelta(days=rng.uniform(0.2, 7)), browse_only=items)
        ticket = f"{store_code}-{at.year:04d}{at.month:02d}{at.day:02d}-{self.next_id('ticket'):09d}"
        lines = []
        total = 0.0
        for n, product in enumerate(items, start=1):
            qty = 1 if rng.random() < 0.85 else rng.randint(2, 3)
            discount = (
                round(product.price * qty * rng.choice([0.1, 0.2, 0.3]), 2) if rng.random() < 0.1 else 0.0
            )
            amount = round(product.price * qty - discount, 2)
            total += amount
            lines.append((ticket, n, product.sku, product.title, qty, product.price, discount, amount))
        identified = self.write_ticket(
            person, at, store_code, store_email, ticket, "VENTE", None, round(total, 2), lines
        )
        self.journey(person, at, "store", "store_purchase", "pos_tickets", ticket, total, store_code)
        if identified and rng.random() < person.survey_propensity:
            self.survey(
                person,
                at + timedelta(days=rng.uniform(0.5, 4)),
                "store_purchase",
                order_ref=ticket,
                store_code=store_code,
                effect=0.2,
            )
        if rng.random() < 0.05:
            returned_at = self.store_hours(at + timedelta(days=rng.randint(2, 30)))
            if returned_at < self.end:
                _, n, sku, title, qty, price, discount, amount = rng.choice(lines)
                day = f"{returned_at.year:04d}{returned_at.month:02d}{returned_at.day:02d}"
                ret = f"{store_code}-{day}-{self.next_id('ticket'):09d}"
                unit = round(amount / qty, 2)
                self.write_ticket(
                    person,
                    returned_at,
                    store_code,
                    store_email,
                    ret,
                    "RETOUR",
                    ticket,
                    -unit,
                    [(ret, 1, sku, title, -1, price, 0.0, -unit)],
                )
                self.journey(
                    person,
                    returned_at,
                    "store",
                    "store_return",
                    "pos_tickets",
                    ret,
                    -unit,
                    store_code,
                    f"ticket={ticket}",  # the sale returned, as web_order= names a web order
                )

    def write_ticket(
        self,
        person: Person,
        at: datetime,
        store_code: str,
        store_email: str,
        ticket: str,
        kind: str,
        origin: str | None,
        total: float,
        lines: list[tuple],
    ) -> bool:
        """Write the ticket header and lines; returns whether it carries any identity."""
        rng, noise = self.rng, self.noise
        card = self.card if self.card and rng.random() < 0.88 else None
        email = phone = last = first = None
        if card is None:
            r = rng.random()
            if r < 0.10:
                email = noise.email(self.other_email(person))
            elif r < 0.15:
                phone = noise.phone(person.phone)
            elif r < 0.19:
                last = noise.text(person.last_name, accents=0.7, upper=True)
                first = noise.text(noise.first_name(person.first_name), accents=0.7, upper=True)
                phone = noise.phone(person.phone) if rng.random() < 0.5 else None
            elif r < 0.21:
                # Walk-in with no e-mail: staff type a placeholder to get past the mandatory field.
                email = rng.choice([store_email, "pasdemail@" + retailer.RETAILER_DOMAIN, "test@test.fr"])
                phone = "0000000000" if rng.random() < 0.5 else None
        payment = rng.choices(["CB", "ESPECES", "CHEQUE", "CARTE_CADEAU"], weights=[80, 12, 3, 5])[0]
        self.writer(pos.TICKETS).write(
            at,
            (
                ticket,
                store_code,
                rng.randint(1, 6),
                at,
                kind,
                origin,
                card,
                email,
                phone,
                last,
                first,
                total,
                payment,
                # The sample's tills capture no address or birth date.
                None,
                None,
                None,
                None,
            ),
        )
        tl = self.writer(pos.TICKET_LINES)
        for line in lines:
            tl.write(at, line)
        identified = any(v is not None for v in (card, email, phone, last))
        if identified:
            self.identity("pos_tickets", ticket, person)
        return identified

    # -- Web -------------------------------------------------------------------------------

    def plan_extra_accounts(self, person: Person) -> int:
        """How many web accounts this person opens after the first (0, 1 or 2), should they open one.

        Decided before the person's truth row is written, so that the new mailbox an extra account
        needs (when the person has no other address) is listed among their e-mails.
        """
        rates = self.rates
        if not self.noise.maybe(rates.second_account):
            return 0
        extra = 2 if self.noise.maybe(rates.third_account / rates.second_account) else 1
        while len(person.emails) < 1 + extra:
            person.emails.append(
                self.population.email(person.first_name, person.last_name, person.birth_date)
            )
        return extra

    def create_account(self, person: Person, at: datetime, email: str | None = None) -> Account:
        """A web account: the first one takes one of the person's e-mails (or none: phone only);
        opening it also opens the extra accounts planned for the person, later, each with an
        e-mail no earlier account of theirs uses (``email``)."""
        rng, noise = self.rng, self.noise
        customer_id = str(7_100_000_000 + self.next_id("account") * 13)
        phone_only = email is None and noise.maybe(self.rates.no_email_account)
        login = None if phone_only else (email or self.other_email(person)).lower()
        address = person.address_at(at)
        has_address = not noise.chance(self.rates.address_missing)
        first, last = noise.first_name(person.first_name), person.last_name
        if noise.chance(self.rates.swap_names):
            first, last = last, first
        self.writer(ecommerce.CUSTOMERS).write(
            at,
            (
                customer_id,
                login,
                noise.text(first, accents=0.1),
                noise.text(last, accents=0.1),
                # A phone-only account logs in by SMS: its phone is always there.
                noise.phone(person.phone) if phone_only or not noise.chance(0.4) else None,
                noise.birth_date(person.birth_date) if rng.random() < 0.3 else None,
                rng.random() < 0.55,
                rng.random() < 0.25,
                noise.street(address.number, address.street_type, address.abbreviation, address.street_name)
                if has_address
                else None,
                address.postcode if has_address else None,
                address.city if has_address else None,
                "FR",
                at,
                None,  # address2
            ),
        )
        self.identity("ecommerce_customers", customer_id, person)
        account = (customer_id, login, at)
        self.accounts.append(account)
        if len(self.accounts) == 1:
            created = at
            for _ in range(self.extra_accounts):
                used = {a[1] for a in self.accounts}
                created = self.random_time(after=created)
                self.create_account(person, created, next(e for e in person.emails if e not in used))
        return account

    def return_web_order_in_store(self, person: Person, ordered_at: datetime, lines: list[list]) -> None:
        """One item of a delivered web order brought back to the home store: a till return
        ticket whose original ticket number is the web order's (as tills record it), refunded at
        the till, so the web shop shows no refund."""
        rng = self.rng
        returned_at = self.store_hours(ordered_at + timedelta(days=rng.randint(3, 30)))
        if returned_at >= self.end:
            return
        order_id, _, sku, title, qty, price, _, amount, _ = rng.choice(lines)
        store_code, _, store_email, _ = self.stores[person.home_store]
        day = f"{returned_at.year:04d}{returned_at.month:02d}{returned_at.day:02d}"
        ret = f"{store_code}-{day}-{self.next_id('ticket'):09d}"
        unit = round(amount / qty, 2)
        self.write_ticket(
            person, returned_at, store_code, store_email, ret, "RETOUR", order_id, -unit,
            [(ret, 1, sku, title, -1, price, 0.0, -unit)],
        )  # fmt: skip
        self.journey(
            person, returned_at, "store", "store_return", "pos_tickets", ret, -unit, store_code,
            f"web_order={order_id}",
        )  # fmt: skip

    def account_at(self, at: datetime) -> Account | None:
        """The account the person logs into at ``at``: with several, usually the newest (the one
        whose password they remember), sometimes an older one."""
        existing = [a for a in self.accounts if a[2] <= at]
        if len(existing) <= 1:
            return existing[0] if existing else None
        return existing[-1] if self.rng.random() < 0.6 else self.rng.choice(existing[:-1])

    def visitor(self, person: Person) -> str:
        if not person.visitor_ids or self.rng.random() < 0.08:
            person.visitor_ids.append(f"{self.rng.getrandbits(64):016x}")
        return self.rng.choice(person.visitor_ids)

    def web_session(self, person: Person, at: datetime, browse_only: list[Product] | None = None) -> None:
        if at < self.first or at > self.end:
            return
        rng = self.rng
        w = self.writer(ecommerce.WEB_EVENTS)
        visitor = self.visitor(person)
        session = f"s{self.next_id('session'):010d}"
        device = rng.choices(["mobile", "desktop", "tablet"], weights=[55, 38, 7])[0]
        source = rng.choice(["google", "direct", "newsletter", "instagram", "", ""]) or None
        t = at
        customer_id: str | None = None

        def event(kind: str, sku: str | None = None, order_id: str | None = None, url: str = "/") -> None:
            nonlocal t
            t += timedelta(seconds=int(5 + 145 * rng.random()))
            eid = f"e{self.next_id('event'):011d}"
            w.write(t, (eid, kind, t, visitor, session, customer_id, order_id, sku, url, device, source))

        event("session_start", url="/")
        account = self.account_at(at)
        if account is not None and rng.random() < 0.3:
            customer_id = account[0]
            event("login", url="/account/login")
        viewed = browse_only or self.products(1 + _poisson(rng, 1.5))
        for product in viewed:
            event("product_view", sku=product.sku, url=f"/p/{product.sku}")
        cart = [] if browse_only else [p for p in viewed if rng.random() < 0.35]
        for product in cart:
            event("add_to_cart", sku=product.sku, url="/cart")
        purchased = False
        if cart and rng.random() < 0.45:
            event("checkout_started", url="/checkout")
            # An express wallet button skips the shop's login and account creation: a guest order.
            express = self.noise.maybe(self.rates.guest_checkout)
            if not express and not self.accounts and rng.random() < 0.3:
                account = self.create_account(person, t)
            if not express and account is not None and customer_id is None and rng.random() < 0.8:
                customer_id = account[0]
                event("login", url="/checkout/login")
            order_id = self.web_order(person, t, cart, None if express else customer_id, express)
            event("checkout_completed", order_id=order_id, url="/checkout/thank-you")
            purchased = True
        if (customer_id or purchased) and visitor not in self.identified_visitors:
            self.identified_visitors.add(visitor)
            self.identity("ecommerce_visitors", visitor, person)
        self.journey(
            person,
            at,
            "web",
            "web_session",
            "ecommerce_web_events",
            session,
            None,
            "",
            f"cart={int(bool(cart))};purchase={int(purchased)};visitor={visitor}",
        )

    def web_order(
        self,
        person: Person,
        at: datetime,
        cart: list[Product],
        customer_id: str | None,
        express: bool = False,
    ) -> str:
        """Write a web order; ``customer_id`` None is a guest checkout, ``express`` one paid with
        a wallet (PayPal, Apple Pay) that fills the e-mail, name, phone and address it holds."""
        rng, noise = self.rng, self.noise
        order_id = f"W{self.next_id('order'):09d}"
        login = next((a[1] for a in self.accounts if a[0] == customer_id), None) if customer_id else None
        if express:
            email = noise.email(rng.choice(person.emails))  # whichever address the wallet was opened with
        else:
            # A phone-only account is asked an e-mail at checkout, for the receipt.
            email = login or noise.email(self.other_email(person))
        if person.uses_store and rng.random() < 0.45:
            method = "store_pickup"
        else:
            method = "home_delivery" if rng.random() < 0.7 else "relay_point"
        store_code = self.stores[person.home_store][0] if method == "store_pickup" else None
        lines = []
        subtotal = 0.0
        for n, product in enumerate(cart, start=1):
            qty = 1 if rng.random() < 0.85 else 2
            discount = round(product.price * qty * 0.15, 2) if rng.random() < 0.1 else 0.0
            line_total = round(product.price * qty - discount, 2)
            subtotal += line_total
            lines.append(
                [
                    order_id,
                    n,
                    product.sku,
                    product.title,
                    qty,
                    product.price,
                    discount,
                    line_total,
                    0,
                ]
            )
        shipping = 0.0 if method == "store_pickup" or subtotal >= 60 else 4.9
        total = round(subtotal + shipping, 2)
        ready = collected = None
        refunded = 0.0
        status = "paid"
        late = False
        if method == "store_pickup":
            ready = at + timedelta(hours=rng.uniform(2, 30))
            r = rng.random()
            if r < 0.03:
                collected = None  # never collected: cancelled and refunded after 14 days
                refunded, status = total, "refunded"
                for line in lines:
                    line[8] = line[4]
            else:
                delay_days = rng.expovariate(1 / 1.5) if r < 0.9 else rng.uniform(7, 14)
                collected = ready + timedelta(days=delay_days)
                late = delay_days > 7
                if collected > self.end:
                    collected = None
        if status == "paid" and rng.random() < 0.05:
            line = rng.choice(lines)
            line[8] = 1
            refunded = round(line[7] / line[4], 2)
            status = "partially_refunded"
        address = person.address_at(at)
        if express:
            # The wallet's full name and phone, and sometimes the address it was set up with
            # before a move.
            if person.new_address is not None and rng.random() < 0.5:
                address = person.address
            first, phone = person.first_name, noise.phone(person.phone)
        else:
            first = noise.first_name(person.first_name)
        self.writer(ecommerce.ORDERS).write(
            at,
            (
                order_id,
                customer_id,
                email,
                at,
                status,
                method,
                store_code,
                ready,
                collected,
                round(subtotal, 2),
                shipping,
                total,
                refunded,
                "EUR",
                noise.text(first, accents=0.1),
                noise.text(person.last_name, accents=0.1),
                phone if express else None if noise.chance(0.4) else noise.phone(person.phone),
                noise.street(address.number, address.street_type, address.abbreviation, address.street_name),
                address.postcode,
                address.city,
                None,  # billing_address2
            ),
        )
        ol = self.writer(ecommerce.ORDER_LINES)
        for line in lines:
            ol.write(at, tuple(line))
        self.identity("ecommerce_orders", order_id, person)
        channel = "click_and_collect" if method == "store_pickup" else "web"
        self.journey(
            person,
            at,
            channel,
            "web_order",
            "ecommerce_orders",
            order_id,
            total,
            store_code or "",
            f"method={method};refunded={refunded:.2f}",
        )
        if method != "store_pickup" and status == "paid" and noise.maybe(self.rates.web_return_in_store):
            self.return_web_order_in_store(person, at, lines)
        if collected is not None:
            delay_h = (collected - ready).total_seconds() / 3600
            self.journey(
                person,
                collected,
                "click_and_collect",
                "pickup",
                "ecommerce_orders",
                order_id,
                None,
                store_code or "",
                f"ready_to_collected_hours={delay_h:.1f}",
            )
            if rng.random() < person.survey_propensity * 1.2:
                self.survey(
                    person,
                    collected + timedelta(hours=rng.uniform(2, 48)),
                    "click_and_collect_pickup",
                    order_ref=order_id,
                    store_code=store_code,
                    effect=-1.5 if late else 0.3,
                )
        elif rng.random() < person.survey_propensity:
            self.survey(
                person,
                at + timedelta(days=rng.uniform(2, 8)),
                "web_purchase",
                order_ref=order_id,
                effect=0.1,
            )
        if late or status == "refunded" or rng.random() < 0.03:
            category = "pickup" if method == "store_pickup" else "delivery"
            if status != "paid":
                category = "refund"
            if rng.random() < 0.4:
                self.service_contact(person, at + timedelta(days=rng.uniform(1, 10)), category, order_id)
        return order_id

    # -- Service ---------------------------------------------------------------------------

    def service_contact(
        self,
        person: Person,
        at: datetime,
        category: str,
        order_ref: str | None,
        repeat_of: str | None = None,
    ) -> None:
        if at > self.end:
            return
        rng, noise = self.rng, self.noise
        ticket_id = str(200_000 + self.next_id("service_ticket"))
        channel = rng.choices(["chat", "phone", "email", "store"], weights=[30, 35, 25, 10])[0]
        resolved = rng.random() < 0.75
        solved_at = at + timedelta(hours=rng.uniform(0.1, 72)) if resolved or rng.random() < 0.5 else None
        if solved_at and solved_at > self.end:
            solved_at = None
        status = ("solved" if resolved else "closed") if solved_at else rng.choice(["open", "pending"])
        resolution = ("resolved" if resolved else "not_resolved") if solved_at else None
        name = f"{noise.first_name(person.first_name)} {person.last_name}"
        email = phone = None
        if channel in ("email", "chat") or rng.random() < 0.3:
            email = noise.email(self.other_email(person))
        if channel in ("phone", "store") or rng.random() < 0.2:
            phone = noise.phone(person.phone)
        if not self.contacts and rng.random() < 0.4:
            self.create_contact(person, at, with_card=False, email=email, phone=phone)
        contact_id = self.contacts[0][0] if self.contacts and rng.random() < 0.5 else None
        subject = next(s for c, s, _ in retailer.SERVICE_CATEGORIES if c == category)
        store_code = self.stores[person.home_store][0] if channel == "store" else None
        self.writer(crm.TICKETS).write(
            at,
            (
                ticket_id,
                channel,
                at,
                solved_at,
                status,
                resolution,
                category,
                noise.text(subject, accents=0.1) if rng.random() < 0.9 else None,
                noise.text(name, accents=0.2),
                email,
                phone,
                contact_id,
                order_ref,
                store_code,
            ),
        )
        self.identity("crm_tickets", ticket_id, person)
        self.journey(
            person,
            at,
            f"service_{channel}",
            "service_contact",
            "crm_tickets",
            ticket_id,
            None,
            store_code or "",
            f"category={category};resolution={resolution or 'open'};repeat_of={repeat_of or ''}",
        )
        if rng.random() < person.survey_propensity and solved_at is not None:
            self.survey(
                person,
                solved_at + timedelta(hours=rng.uniform(1, 48)),
                "service_contact",
                ticket_ref=ticket_id,
                effect=0.3 if resolved else -1.5,
            )
        if not resolved and rng.random() < 0.65:
            self.service_contact(
                person,
                at + timedelta(days=rng.uniform(0.2, 7)),
                category,
                order_ref,
                repeat_of=repeat_of or ticket_id,
            )

    # -- Surveys ---------------------------------------------------------------------------

    def survey(
        self,
        person: Person,
        at: datetime,
        touchpoint: str,
        order_ref: str | None = None,
        ticket_ref: str | None = None,
        store_code: str | None = None,
        effect: float = 0.0,
    ) -> None:
        if at > self.end:
            return
        rng = self.rng
        latent = 0.6 * person.mood + effect + rng.gauss(0, 0.7)
        asks = {
            "store_purchase": ("nps", "csat"),
            "web_purchase": ("nps", "csat"),
            "service_contact": ("csat", "ces"),
            "click_and_collect_pickup": ("nps", "csat", "ces"),
        }[touchpoint]
        nps = _clamp(7.6 + 2.0 * latent + rng.gauss(0, 0.8), 0, 10) if "nps" in asks else None
        csat = _clamp(3.9 + 0.9 * latent + rng.gauss(0, 0.4), 1, 5) if "csat" in asks else None
        ces = _clamp(5.3 + 1.2 * latent + rng.gauss(0, 0.6), 1, 7) if "ces" in asks else None
        themes_for = {
            "store_purchase": ["attente", "accueil", "prix", "qualité produit"],
            "web_purchase": ["livraison", "site web", "prix", "qualité produit"],
            "service_contact": ["service client", "attente"],
            "click_and_collect_pickup": ["retrait", "attente", "accueil"],
        }[touchpoint]
        verbatim = None
        themes: list[str] = []
        if rng.random() < 0.55:
            themes = rng.sample(themes_for, k=min(len(themes_for), rng.choice([1, 1, 2])))
            parts = []
            for theme in themes:
                positive, negative = retailer.VERBATIM_THEMES[theme]
                parts.append(rng.choice(positive if latent > 0 else negative))
            sep = "\n" if rng.random() < 0.2 else " "
            verbatim = sep.join(parts)
            if rng.random() < 0.1:
                verbatim = f'Bref, "{verbatim}"' if rng.random() < 0.5 else f"« {verbatim} »"
            if rng.random() < 0.25:
                verbatim += " " + rng.choice(
                    retailer.EMOJIS_POSITIVE if latent > 0 else retailer.EMOJIS_NEGATIVE
                )
        email = self.other_email(person) if rng.random() < 0.7 else None
        response_id = f"R_{rng.getrandbits(60):015x}"
        survey_id = f"SV_{touchpoint.upper()}"
        self.writer(survey.RESPONSES).write(
            at,
            (
                response_id,
                survey_id,
                touchpoint,
                at,
                email,
                nps,
                csat,
                ces,
                verbatim,
                order_ref,
                ticket_ref,
                store_code,
            ),
        )
        self.identity("survey_responses", response_id, person)
        self.journey(
            person,
            at,
            "survey",
            "survey_response",
            "survey_responses",
            response_id,
            None,
            store_code or "",
            f"touchpoint={touchpoint};nps={nps};csat={csat};ces={ces};themes={'|'.join(themes)}",
        )
