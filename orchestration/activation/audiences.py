"""Audiences for activation: consented contacts a marketing tool can import, one CSV each.

Each audience of ``audiences.yml`` (or the file ``CDP_AUDIENCES_CONFIG`` points to) is a SQL
condition on one row per customer (``marts.dim_customers`` with ``marts.mart_customer_segments``)
and a channel. Its file, ``CDP_DATA_DIR/activation/<name>.csv``, holds only the customers whose
consent for that channel is granted (``marts.dim_customer_consents``: a withdrawn or unknown
consent is never exported) and who have a contact for it, in the layout French e-mail tools
(Brevo, Sendinblue, Mailjet…) import: ``;``-separated UTF-8, a header of upper-case attribute
names, ``EMAIL`` (or ``SMS``, or the postal address), ``PRENOM``, ``NOM``, ``DATE_CONSENTEMENT``
(when the customer last granted the channel), then the audience's attributes.

These files are the one place where the platform writes contact data in clear (the BI copy holds
pseudonymous keys): each is written under a temporary name, readable by its owner only, and
renamed into place, so a tool picking it up never reads half of one. A cell that a spreadsheet
would run as a formula (``=HYPERLINK(…)`` typed as a name, but also a phone ``+336…``) is written
as text, ``"'+336…"`` (``orchestration/lib/spreadsheet_safe.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import yaml

from orchestration.lib.atomic import write_text_atomically
from orchestration.lib.spreadsheet_safe import csv_text
from orchestration.settings import get_settings

SHIPPED_CONFIG = Path(__file__).resolve().parent / "audiences.yml"
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
# The contact exported per channel: (column of dim_customers, header).
CONTACTS = {
    "email": (("email", "EMAIL"),),
    "sms": (("phone", "SMS"),),
    "post": (("street", "ADRESSE"), ("postcode", "CODE_POSTAL"), ("city", "VILLE")),
}
KEYS = {"description", "channel", "where", "attributes"}


class AudienceConfigError(ValueError):
    """A bad audience definition: the message names the file and the key."""


@dataclass(frozen=True)
class Audience:
    name: str
    description: str
    channel: str
    where: str
    attributes: tuple[str, ...]


def config_path() -> Path:
    """The definitions in force: ``CDP_AUDIENCES_CONFIG`` if set, else the shipped file."""
    return get_settings().audiences_config or SHIPPED_CONFIG


def load_audiences(path: Path | None = None) -> list[Audience]:
    """Every audience of the file, validated: an error names the file and the key."""
    path = path or config_path()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise AudienceConfigError(f"{path}: cannot read the audiences: {error}") from error
    audiences = raw.get("audiences") if isinstance(raw, dict) else None
    if not isinstance(audiences, dict):
        raise AudienceConfigError(f"{path}: expected a mapping 'audiences: {{name: {{...}}}}'")
    result = []
    for name, spec in audiences.items():
        where = f"{path}: audiences.{name}"
        if not isinstance(name, str) or not NAME.match(name):
            raise AudienceConfigError(f"{where}: a name is lower case letters, digits and _")
        if not isinstance(spec, dict):
            raise AudienceConfigError(f"{where}: expected a mapping")
        if unknown := set(spec) - KEYS:
            raise AudienceConfigError(f"{where}: unknown key(s) {sorted(unknown)}")
        if spec.get("channel") not in CONTACTS:
            raise AudienceConfigError(
                f"{where}.channel: one of {sorted(CONTACTS)}, not {spec.get('channel')!r}"
            )
        if not isinstance(spec.get("where"), str) or not spec["where"].strip():
            raise AudienceConfigError(f"{where}.where: a SQL condition is required")
        attributes = spec.get("attributes") or []
        if not isinstance(attributes, list) or not all(isinstance(a, str) for a in attributes):
            raise AudienceConfigError(f"{where}.attributes: a list of column names")
        result.append(
            Audience(
                name, str(spec.get("description", "")), spec["channel"], spec["where"], tuple(attributes)
            )
        )
    return result


def audience_sql(audience: Audience) -> str:
    """The audience's rows, consented and reachable on its channel, in export order."""
    contacts = CONTACTS[audience.channel]
    columns = [f'audience."{column}" as "{header}"' for column, header in contacts]
    columns += [
        'audience.first_name as "PRENOM"',
        'audience.last_name as "NOM"',
        "strftime(consents.last_granted_at, '%Y-%m-%d') as \"DATE_CONSENTEMENT\"",
    ]
    columns += [f'audience."{a}" as "{a.upper()}"' for a in audience.attributes]
    reachable = " and ".join(f'audience."{column}" is not null' for column, _ in contacts)
    return f"""
        with audience as (
            select * from marts.dim_customers
            join marts.mart_customer_segments using (customer_id, lifecycle_stage)
        )
        select {", ".join(columns)}
        from audience
        join marts.dim_customer_consents as consents
            on consents.customer_id = audience.customer_id
            and consents.consent_channel = '{audience.channel}'
            and consents.is_granted
        where {reachable} and ({audience.where})
        order by audience.customer_id
    """


@dataclass(frozen=True)
class Written:
    path: Path
    rows: int
    columns: list[str]
    preview: list[tuple]  # contacts masked, for the Dagster UI


def write_audience(con: duckdb.DuckDBPyConnection, audience: Audience, folder: Path) -> Written:
    """``folder/<name>.csv``: written whole, owner-only, then renamed into place."""
    try:
        result = con.execute(audience_sql(audience))
    except duckdb.Error as error:
        raise AudienceConfigError(f"{config_path()}: audiences.{audience.name}: {error}") from error
    columns = [d[0] for d in result.description]
    rows = result.fetchall()
    folder.mkdir(parents=True, exist_ok=True)
    text = csv_text(columns, rows, delimiter=";")  # formula-looking cells neutralised
    path = write_text_atomically(folder / f"{audience.name}.csv", text, 0o600)
    contact_columns = len(CONTACTS[audience.channel]) + 2  # the contact, first and last name
    preview = [
        tuple(_mask(v) for v in row[:contact_columns]) + tuple(row[contact_columns:]) for row in rows[:5]
    ]
    return Written(path, len(rows), columns, preview)


def _mask(value: object) -> str | None:
    """``c***@laposte.net``, ``+336*******59``: enough to recognise a row, not to contact anyone."""
    if value is None:
        return None
    text = str(value)
    if "@" in text:
        local, _, domain = text.partition("@")
        return f"{local[:1]}***@{domain}"
    return text[:1] + "*" * max(len(text) - 3, 1) + text[-2:] if len(text) > 3 else "***"
