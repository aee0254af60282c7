"""How people's identities get distorted when typed into different systems.

Each rate is the probability that one field of one record is distorted that way. ``Messiness``
scales all of them at once (``--messiness 0`` gives clean data, ``2`` twice the default rates).

The rates in ``REALISM`` are habits of real retail data added after the first version of the
generator (several web accounts per person, express checkouts, birth-date typos, accounts without
an e-mail, more first-name variants, web orders returned in store). ``--realism`` scales them on
top of ``--messiness``; at 0 the generator draws none of them and (with the fixed population,
``simulate.FIXED_POPULATION``) writes byte for byte what it wrote before they existed, so their
effect (on identity accuracy, say) can be measured apart.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, fields
from datetime import date, timedelta

from orchestration.generate.reference.names import FIRST_NAME_VARIANTS, NICKNAMES

KEYBOARD_NEIGHBOURS = {
    "a": "zqs",
    "z": "aes",
    "e": "zrd",
    "r": "etf",
    "t": "ryg",
    "y": "tuh",
    "u": "yij",
    "i": "uok",
    "o": "ipl",
    "p": "om",
    "q": "asw",
    "s": "qdz",
    "d": "sfe",
    "f": "dgr",
    "g": "fht",
    "h": "gjy",
    "j": "hku",
    "k": "jli",
    "l": "kmo",
    "m": "lp",
    "w": "xq",
    "x": "wcs",
    "c": "xvd",
    "v": "cbf",
    "b": "vng",
    "n": "bmh",
}


@dataclass(frozen=True)
class Messiness:
    """Distortion rates at the default level of mess, per field (or per account, checkout)."""

    typo: float = 0.03
    drop_accents: float = 0.25
    case_noise: float = 0.15
    swap_names: float = 0.02
    nickname: float = 0.06
    initial: float = 0.03
    compound_variant: float = 0.3
    other_email: float = 0.30
    email_typo: float = 0.02
    phone_missing: float = 0.25
    phone_typo: float = 0.01
    birth_date_missing: float = 0.3
    address_missing: float = 0.2
    address_abbreviation: float = 0.3
    whitespace: float = 0.03
    move: float = 0.06
    maiden_name: float = 0.35
    # Realism (scaled by ``--realism`` too; see the module docstring).
    # Web-account holders who open a second account with another e-mail (a new mailbox, or an
    # address they forgot they had registered, after a forgotten password), then log in with
    # either: 8 % of holders, an order of magnitude plausible for a shop that keys accounts on
    # the e-mail address (not a measured figure: tune it to your data).
    second_account: float = 0.08
    # ... of whom a quarter open a third one (2 % of holders).
    third_account: float = 0.02
    # Checkouts paid with an express wallet button (PayPal, Apple Pay) on the cart page: a guest
    # order (no customer_id) even when the session was logged in, carrying the wallet's e-mail,
    # name and address, which may predate a move. Plain guest checkouts (no account, or not
    # logged in) already make 43 % of web orders; this brings them to 47 % (10,000 customers).
    guest_checkout: float = 0.08
    # A birth date typed wrong (day and month swapped, half the time when the day is 12 or less;
    # else one wrong digit): per CRM contact or web account that has a birth date.
    birth_date_typo: float = 0.03
    # Web accounts opened with a phone number only (SMS login), no e-mail.
    no_email_account: float = 0.03
    # A first name typed as one of its ``FIRST_NAME_VARIANTS`` (nicknames and spellings beyond
    # ``NICKNAMES``): the same rate as ``nickname``, applied when that one did not fire.
    first_name_variant: float = 0.06
    # Delivered web orders (home or relay point) of which one item is brought back to the
    # customer's store within a month and refunded at the till (a return ticket referencing the
    # web order): 4 % of them, an assumed order of magnitude (not a measured figure: tune it).
    web_return_in_store: float = 0.04

    def scaled(self, factor: float, realism: float = 1.0) -> Messiness:
        """Every rate times ``factor``, and the ``REALISM`` ones times ``realism`` as well."""
        return Messiness(
            **{
                f.name: min(1.0, getattr(self, f.name) * factor * (realism if f.name in REALISM else 1.0))
                for f in fields(self)
            }
        )


REALISM = frozenset(
    {
        "second_account",
        "third_account",
        "guest_checkout",
        "birth_date_typo",
        "no_email_account",
        "first_name_variant",
        "web_return_in_store",
    }
)


def strip_accents(text: str) -> str:
    return (
        "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
        .replace("œ", "oe")
        .replace("Œ", "OE")
    )


def ascii_slug(text: str) -> str:
    return "".join(c for c in strip_accents(text).lower() if c.isalnum() or c in "-.")


class Noise:
    """Applies ``Messiness`` with one random stream, so output is deterministic for a seed."""

    def __init__(self, rng: random.Random, rates: Messiness) -> None:
        self.rng = rng
        self.r = rates

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def maybe(self, p: float) -> bool:
        """``chance`` that draws nothing when ``p`` is 0: a behaviour switched off (``--realism 0``)
        leaves the random stream, hence every file, exactly as it was without that behaviour."""
        return p > 0 and self.rng.random() < p

    def typo(self, text: str) -> str:
        """One keyboard slip: substitution by a neighbour key, deletion, doubling or transposition."""
        if len(text) < 3:
            return text
        i = self.rng.randrange(1, len(text) - 1)
        kind = self.rng.randrange(4)
        c = text[i]
        if kind == 0 and c.lower() in KEYBOARD_NEIGHBOURS:
            sub = self.rng.choice(KEYBOARD_NEIGHBOURS[c.lower()])
            return text[:i] + (sub.upper() if c.isupper() else sub) + text[i + 1 :]
        if kind == 1:
            return text[:i] + text[i + 1 :]
        if kind == 2:
            return text[:i] + c + text[i:]
        return text[: i - 1] + text[i] + text[i - 1] + text[i + 1 :]

    def first_name(self, name: str) -> str:
        """Nicknames, initials and the many ways a compound first name gets typed."""
        rng = self.rng
        if "-" in name and self.chance(self.r.compound_variant):
            a, b = name.split("-", 1)
            return rng.choice([f"{a} {b}", a, f"{a[0]}{b[0]}", f"{a[0]}-{b[0]}", f"{a}{b.lower()}"])
        if name in NICKNAMES and self.chance(self.r.nickname):
            return NICKNAMES[name]
        variants = FIRST_NAME_VARIANTS.get(name)
        if variants and self.maybe(self.r.first_name_variant):
            return variants[0] if len(variants) == 1 else rng.choice(variants)
        if self.chance(self.r.initial):
            return f"{name[0]}."
        return name

    def text(self, value: str, *, accents: float | None = None, upper: bool = False) -> str:
        """Typos, lost accents, case and whitespace noise on a typed name or address."""
        if not value:
            return value
        if self.chance(self.r.typo):
            value = self.typo(value)
        if self.chance(self.r.drop_accents if accents is None else accents):
            value = strip_accents(value)
        if upper:
            value = value.upper()
        elif self.chance(self.r.case_noise):
            value = self.rng.choice([value.upper(), value.lower()])
        if self.chance(self.r.whitespace):
            value = self.rng.choice([f" {value}", f"{value} ", value.replace(" ", "  ", 1)])
        return value

    def birth_date(self, value: date) -> date:
        """A birth date as typed: sometimes day and month swapped (when the day could be a month,
        as when a form expects mm/dd), else one digit of the day, month or year wrong."""
        if not self.maybe(self.r.birth_date_typo):
            return value
        if value.day <= 12 and value.day != value.month and self.chance(0.5):
            return value.replace(month=value.day, day=value.month)
        text = value.strftime("%d%m%Y")
        positions = [0, 1, 2, 3, 7]  # a digit of the day or month, or the year's last one
        for _ in range(20):  # most slips give a real date; retry the few that do not (31/13)
            i = self.rng.choice(positions)
            digit = self.rng.choice([d for d in "0123456789" if d != text[i]])
            typed = text[:i] + digit + text[i + 1 :]
            try:
                wrong = date(int(typed[4:]), int(typed[2:4]), int(typed[:2]))
            except ValueError:
                continue
            return wrong
        return value + timedelta(days=1)

    def email(self, value: str) -> str:
        if self.chance(self.r.email_typo):
            local, _, domain = value.partition("@")
            if self.chance(0.5):
                local = self.typo(local)
            else:
                domain = self.rng.choice(
                    [
                        domain.replace("gmail", "gmial"),
                        domain.replace(".fr", ".ff"),
                        domain.replace("hotmail", "hotmal"),
                        domain.replace(".com", ".con"),
                    ]
                )
            value = f"{local}@{domain}"
        if self.chance(self.r.case_noise / 2):
            value = value.capitalize() if self.chance(0.5) else value.upper()
        if self.chance(self.r.whitespace):
            value = f" {value} "
        return value

    def phone(self, e164: str) -> str:
        """A +33 mobile written the way people and tools write it."""
        digits = "0" + e164[3:]
        if self.chance(self.r.phone_typo):
            i = self.rng.randrange(2, len(digits))
            digits = digits[:i] + str((int(digits[i]) + 1) % 10) + digits[i + 1 :]
        pairs = " ".join(digits[i : i + 2] for i in range(0, 10, 2))
        return self.rng.choice(
            [
                pairs,
                digits,
                "+33" + digits[1:],
                "+33 " + digits[1] + " " + " ".join(digits[i : i + 2] for i in range(2, 10, 2)),
                "0033" + digits[1:],
                pairs.replace(" ", "."),
                "+33 (0)" + digits[1:],
            ]
        )

    def street(self, number: int, street_type: str, abbreviation: str, name: str) -> str:
        kind = abbreviation if self.chance(self.r.address_abbreviation) else street_type
        sep = ", " if self.chance(0.1) else " "
        return self.text(f"{number}{sep}{kind} {name}")
