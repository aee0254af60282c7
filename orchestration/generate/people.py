"""Persons and households: who the customers really are (the ground truth behind every export)."""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import accumulate

from orchestration.generate.noise import ascii_slug
from orchestration.generate.reference import addresses, names


@dataclass(frozen=True)
class Address:
    number: int
    street_type: str
    abbreviation: str
    street_name: str
    extra: str
    postcode: str
    city: str

    @property
    def line(self) -> str:
        return f"{self.number} {self.street_type} {self.street_name}{self.extra}"


@dataclass
class Person:
    person_id: str
    household_id: str
    sex: str
    first_name: str
    last_name: str
    maiden_name: str | None
    birth_date: date
    emails: list[str]
    phone: str  # E.164
    address: Address
    new_address: Address | None
    moved_at: datetime | None
    home_store: int
    uses_store: bool
    uses_web: bool
    store_rate: float
    web_rate: float
    service_rate: float
    survey_propensity: float
    mood: float
    age: int
    visitor_ids: list[str] = field(default_factory=list)

    def address_at(self, when: datetime) -> Address:
        if self.new_address is not None and self.moved_at is not None and when >= self.moved_at:
            return self.new_address
        return self.address

    @property
    def segment(self) -> str:
        if self.uses_store and self.uses_web:
            return "omnichannel"
        return "store_only" if self.uses_store else "web_only"


def _weighted(items: list, weights: list[int]) -> tuple[list, list[float]]:
    return items, list(accumulate(weights))


class Population:
    """Draws households of persons; names follow a Zipf-like law so common names collide."""

    def __init__(
        self,
        rng: random.Random,
        start: datetime,
        end: datetime,
        n_stores: int,
        shard: int = 0,
        first_person: int = 0,
        shards: int = 1,
    ) -> None:
        self.rng = rng
        self.shard = shard
        self.shards = shards
        self.emails_taken: set[str] = set()
        self.first_person = first_person
        self.start = start
        self.end = end
        self.n_stores = n_stores
        self.last_cum = list(accumulate(1.0 / (i + 1) ** 0.9 for i in range(len(names.LAST_NAMES))))
        self.city_cum = list(accumulate(w for _, _, w in addresses.CITIES))
        self.street_cum = list(accumulate(w for _, _, w in addresses.STREET_TYPES))
        self.domain_cum = list(accumulate(w for _, w in addresses.EMAIL_DOMAINS))
        self.persons = 0
        self.households = 0
        # Stores in a person's own city are preferred as home store.
        self.store_by_city: dict[str, int] = {}
        for i, city_index in enumerate(addresses.STORE_CITY_INDEXES[:n_stores]):
            self.store_by_city.setdefault(addresses.CITIES[city_index][0], i)

    def last_name(self) -> str:
        return self.rng.choices(names.LAST_NAMES, cum_weights=self.last_cum)[0]

    def first_name(self, sex: str) -> str:
        rng = self.rng
        if rng.random() < 0.12:
            return rng.choice(names.COMPOUND_MALE if sex == "M" else names.COMPOUND_FEMALE)
        return rng.choice(names.FIRST_NAMES_MALE if sex == "M" else names.FIRST_NAMES_FEMALE)

    def address(self) -> Address:
        rng = self.rng
        city, postcode, _ = rng.choices(addresses.CITIES, cum_weights=self.city_cum)[0]
        street_type, abbreviation, _ = rng.choices(addresses.STREET_TYPES, cum_weights=self.street_cum)[0]
        name = rng.choice(addresses.STREET_NAMES) if rng.random() < 0.6 else rng.choice(names.LAST_NAMES)
        extra = ""
        if rng.random() < 0.25:
            extra = rng.choice(
                [
                    f", appt {rng.randint(1, 80)}",
                    f", bât. {rng.choice('ABCDE')}",
                    f", {rng.randint(1, 9)}e étage",
                ]
            )
        number = rng.choice([rng.randint(1, 30), rng.randint(1, 180)])
        return Address(number, street_type, abbreviation, name, extra, postcode, city)

    def email(self, first: str, last: str, birth: date) -> str:
        rng = self.rng
        f, n = ascii_slug(first).replace(".", ""), ascii_slug(last).replace(" ", "")
        local = rng.choice(
            [
                f"{f}.{n}",
                f"{f}{n}",
                f"{f[0]}.{n}",
                f"{n}.{f}",
                f"{f}.{n}{birth.year % 100:02d}",
                f"{f}_{n}",
                f"{f[0]}{n}{rng.randint(1, 99)}",
                f"{f}{rng.randint(1, 999)}",
                f"{f}.{n}{rng.randint(1, 9)}",
            ]
        )
        domain = rng.choices(addresses.EMAIL_DOMAINS, cum_weights=self.domain_cum)[0][0]
        return self.register_email(local, domain)

    def register_email(self, local: str, domain: str) -> str:
        """A free address for this mailbox: as at a real provider, one address is one mailbox.

        Shards run in separate processes, so each bare address has one owning shard (by checksum);
        elsewhere, or when taken, a number is appended: ``.N`` with ``N ≡ shard (mod shards)``,
        which no other shard can produce and no name pattern ends with.
        """
        address = f"{local}@{domain}"
        checksum = zlib.crc32(address.encode())
        if address not in self.emails_taken and checksum % self.shards == self.shard:
            self.emails_taken.add(address)
            return address
        # The number comes from the checksum, not the random stream, so that everything else
        # generated stays the same as without the clash.
        k = 1 + checksum % 99
        while (address := f"{local}.{k * self.shards + self.shard}@{domain}") in self.emails_taken:
            k += 1
        self.emails_taken.add(address)
        return address

    def phone(self) -> str:
        return f"+33{self.rng.choice('67')}{self.rng.randrange(10**8):08d}"

    def household(self) -> list[Person]:
        """One to four adults sharing an address; couples sometimes share one e-mail."""
        rng = self.rng
        self.households += 1
        household_id = f"H{self.shard:03d}{self.households:06d}"
        size = rng.choices([1, 2, 3, 4], weights=[45, 38, 11, 6])[0]
        address = self.address()
        family_name = self.last_name()
        members: list[Person] = []
        for k in range(size):
            sex = rng.choice("MF")
            if k == 0:
                last = family_name
                age = rng.randint(20, 82)
            elif k == 1:
                last = family_name if rng.random() < 0.75 else self.last_name()
                age = max(19, min(85, members[0].age + rng.randint(-6, 6)))
            else:  # adult children living at home
                last = family_name
                age = rng.randint(18, 26)
            maiden = self.last_name() if (sex == "F" and k == 1 and last == family_name) else None
            first = self.first_name(sex)
            birth = date(self.end.year - age, 1, 1) + timedelta(days=rng.randrange(365))
            emails = [self.email(first, last, birth)]
            if rng.random() < 0.45:
                emails.append(self.email(first, maiden or last, birth))
            if k == 1 and rng.random() < 0.15:
                provider = rng.choice(["orange.fr", "free.fr", "gmail.com"])
                shared_email = self.register_email(f"famille.{ascii_slug(last)}", provider)
                emails.append(shared_email)
                members[0].emails.append(shared_email)
            moved_at = None
            new_address = None
            if rng.random() < 0.06:
                moved_at = self.start + (self.end - self.start) * rng.random()
                new_address = self.address()
            uses_store = rng.random() < 0.8
            uses_web = rng.random() < (0.55 if uses_store else 1.0)
            city = address.city
            home_store = self.store_by_city.get(city, rng.randrange(self.n_stores))
            self.persons += 1
            person = Person(
                person_id=f"P{self.first_person + self.persons:08d}",
                household_id=household_id,
                sex=sex,
                first_name=first,
                last_name=last,
                maiden_name=maiden,
                birth_date=birth,
                emails=emails,
                phone=self.phone(),
                address=address,
                new_address=new_address,
                moved_at=moved_at,
                home_store=home_store,
                uses_store=uses_store,
                uses_web=uses_web,
                store_rate=rng.gammavariate(1.2, 2.0) if uses_store else 0.0,
                web_rate=rng.gammavariate(1.2, 3.5) if uses_web else 0.0,
                service_rate=rng.gammavariate(1.0, 0.25),
                survey_propensity=rng.betavariate(2, 8),
                mood=rng.gauss(0.0, 1.0),
                age=age,
            )
            members.append(person)
        return members
