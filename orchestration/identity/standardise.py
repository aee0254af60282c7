"""Standardise identity attributes, in one place, before any matching.

Everything is SQL macros in DuckDB (the data never leaves the warehouse) applied by
``build_identity_records``, which writes ``identity.records``: one row per identity-bearing source
record, with the same standardised columns whatever the source.

The rules are about how people and tools write names, e-mails, phones and French addresses, not
about any one data set:

- names: lower case, accents and titles removed, hyphens, dots and apostrophes dropped so that
  "Jean-Pierre", "Jean Pierre" and "JEANPIERRE" agree; a lone letter is kept as an initial;
- e-mails: trimmed, lower case, spaces removed; for Gmail only (where the provider documents it)
  dots and ``+tags`` in the local part are ignored; placeholders (``test@…``, ``pasdemail@…``, the
  stores' own addresses) become NULL;
- phones: French numbers to E.164 (``+33…``) from any of 06…, +33 6…, 0033…, +33 (0)6…, with
  separators; placeholders (all one digit, 0123456789) become NULL;
- addresses: French street-type abbreviations expanded (av. → avenue, bd → boulevard, r. → rue,
  chem. → chemin…), flat and building details dropped, house number kept apart; postcodes padded
  to five digits; "St"/"Ste" in city names spelt out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import duckdb

from orchestration.exports import ALL_TABLES, effective_tables
from orchestration.identity.config import IdentitySettings, load_identity_settings
from orchestration.settings import get_settings
from orchestration.warehouse.raw import ensure_raw_schema, latest_versions_sql

PLACEHOLDER_EMAIL_LOCAL_PARTS = (
    "test", "pasdemail", "noemail", "nomail", "sansemail", "aucun", "none", "client", "xxx",
    "nepasutiliser", "inconnu", "a", "no",
)  # fmt: skip
TITLES = ("m", "mr", "mme", "mlle", "melle", "dr", "pr", "me", "monsieur", "madame", "mademoiselle")

MACROS = f"""
create or replace macro cdp_clean_text(x) as
    nullif(trim(regexp_replace(lower(strip_accents(coalesce(x, ''))), '\\s+', ' ', 'g')), '');

create or replace macro cdp_std_name(x) as
    nullif(regexp_replace(
        regexp_replace(cdp_clean_text(x), '^({"|".join(TITLES)})\\.?\\s+', ''),
        '[^a-z]', '', 'g'), '');

-- A rough French/English phonetic key of a standardised name, for names that sound alike but are
-- spelt differently (Margaux / Margot, Anna / Hannah, Mathieu / Matthieu): ph→f, th→t, qu/ck/c
-- before a hard vowel→k, eau/au→o, y→i, z→s, silent h dropped, doubled letters collapsed, silent
-- final e/s/t/x/d dropped.
create or replace macro cdp_phonetic(x) as (
    with spelt as (
        select replace(replace(replace(replace(x, 'ph', 'f'), 'th', 't'), 'qu', 'k'), 'ck', 'k') as s
    ),
    sounds as (
        select regexp_replace(regexp_replace(regexp_replace(regexp_replace(
                   s, 'c([aou])', 'k\\1', 'g'), 'e?au', 'o', 'g'), 'y', 'i', 'g'), 'z', 's', 'g') as s
        from spelt
    ),
    silent_h as (
        -- h is silent except in ch (and sh)
        select regexp_replace(regexp_replace(s, '([^cs])h', '\\1', 'g'), '^h', '') as s from sounds
    ),
    collapsed as (
        select array_to_string(
            list_filter(string_split(s, ''), lambda c, i: i = 1 or c <> string_split(s, '')[i - 1]), ''
        ) as s
        from silent_h
    )
    select nullif(regexp_replace(s, '[estxd]+$', ''), '') from collapsed
);

-- Two standardised first names that look or sound like one name: equal, one typo apart, one an
-- initial or the start of the other (a compound first name typed in part), the initials of a
-- compound name (JP / Jean-Pierre), or a short form sharing the first three letters (Alex /
-- Alexandre). orchestration/identity/names.py holds the same rule for clusters (keep them equal).
create or replace macro cdp_first_names_alike(a, b) as
    a = b
    or jaro_winkler_similarity(a, b) >= 0.9
    or damerau_levenshtein(a, b) <= 1
    or starts_with(a, b) or starts_with(b, a)
    or (least(length(a), length(b)) <= 2 and left(a, 1) = left(b, 1))
    or (least(length(a), length(b)) <= 4 and left(a, 3) = left(b, 3));

-- Two first names that can belong to one person: alike, alike as sounds (when configured), or one
-- alike to a nickname / variant of the other (identity.first_name_variants, from the editable
-- dictionary in identity.yml: Richard / Rich / Dick, Anna / Hannah, and a typo in a short form).
create or replace macro cdp_first_names_compatible(a, b) as
    cdp_first_names_alike(a, b)
    or (__PHONETIC__ and coalesce(cdp_phonetic(a) = cdp_phonetic(b), false))
    or exists (
        select 1 from identity.first_name_variants x join identity.first_name_variants y using (group_name)
        where x.member = a and cdp_first_names_alike(y.member, b)
    )
    or exists (
        select 1 from identity.first_name_variants x join identity.first_name_variants y using (group_name)
        where x.member = b and cdp_first_names_alike(y.member, a)
    );

-- The same person's names, also when one record has first and last name swapped.
create or replace macro cdp_names_compatible(first_l, last_l, first_r, last_r) as
    cdp_first_names_compatible(first_l, first_r)
    or (cdp_first_names_compatible(first_l, last_r) and cdp_first_names_compatible(last_l, first_r));

create or replace macro cdp_std_email(x) as (
    with parts as (
        select lower(regexp_replace(coalesce(x, ''), '\\s', '', 'g')) as e
    ),
    split as (
        select split_part(e, '@', 1) as local, split_part(e, '@', 2) as domain, e from parts
    ),
    normal as (
        select
            case when domain in ('gmail.com', 'googlemail.com')
                 then replace(split_part(local, '+', 1), '.', '') else local end as local,
            case when domain = 'googlemail.com' then 'gmail.com' else domain end as domain,
            e
        from split
    )
    select case
        when e not similar to '[^@]+@[^@]+\\.[a-z]+' then null
        when local in ({", ".join(f"'{p}'" for p in PLACEHOLDER_EMAIL_LOCAL_PARTS)}) then null
        else local || '@' || domain
    end
    from normal
);

create or replace macro cdp_std_phone(x) as (
    with d as (
        select regexp_replace(replace(coalesce(x, ''), '(0)', ''), '[^0-9+]', '', 'g') as p
    ),
    n as (
        select case
            when p like '+33%' then substr(p, 4)
            when p like '0033%' then substr(p, 5)
            when p like '33%' and length(p) = 11 then substr(p, 3)
            when p like '0%' and length(p) = 10 then substr(p, 2)
            else null
        end as national
        from d
    )
    select case
        when national is null or length(national) <> 9 or national not similar to '[1-9][0-9]{{8}}'
            then null
        when national = repeat(substr(national, 1, 1), 9) or national = '123456789'
            then null
        else '+33' || national
    end
    from n
);

-- A French mobile number (+33 6…, +33 7…): one person's, unlike a landline a household shares.
create or replace macro cdp_is_mobile(e164) as e164 similar to '\\+33[67][0-9]{{8}}';

create or replace macro cdp_std_postcode(x) as
    case
        when regexp_replace(coalesce(x, ''), '[^0-9]', '', 'g') similar to '[0-9]{{4,5}}'
            then lpad(regexp_replace(x, '[^0-9]', '', 'g'), 5, '0')
    end;

create or replace macro cdp_std_city(x) as
    nullif(trim(regexp_replace(regexp_replace(regexp_replace(
        replace(replace(cdp_clean_text(x), '-', ' '), '''', ' '),
        '\\bste\\b', 'sainte', 'g'), '\\bst\\b', 'saint', 'g'), '\\s+', ' ', 'g')), '');

create or replace macro cdp_std_street(x) as (
    with t as (
        select regexp_replace(
            cdp_clean_text(x),
            ',?\\s*(appt|apt|appartement|bat|bât|batiment|residence|\\d+e etage|etage)\\b.*$', ''
        ) as s
    ),
    u as (
        select regexp_replace(regexp_replace(s, '[,\\.]', ' ', 'g'), '\\s+', ' ', 'g') as s from t
    )
    select nullif(trim(
        regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(
        regexp_replace(regexp_replace(' ' || s || ' ',
            ' av ', ' avenue ', 'g'), ' bd | boul | bld ', ' boulevard ', 'g'), ' r ', ' rue ', 'g'),
            ' chem ', ' chemin ', 'g'), ' all ', ' allee ', 'g'), ' pl ', ' place ', 'g'),
            ' imp ', ' impasse ', 'g'), ' rte ', ' route ', 'g')), '')
    from u
);
"""


def install_macros(
    con: duckdb.DuckDBPyConnection, phonetic_first_names: bool = True, *, temporary: bool = False
) -> None:
    """(Re)create the standardisation macros on this connection; ``temporary``: only for this
    connection, as a read-only one needs (a privacy request standardising what the person gives)."""
    macros = MACROS.replace("__PHONETIC__", "true" if phonetic_first_names else "false")
    if temporary:
        macros = macros.replace("create or replace macro", "create or replace temp macro")
    con.execute(macros)


# ``identity.first_name_variants(group_name, member)`` from ``_variants(name, variant)``.
FIRST_NAME_VARIANTS_SQL = """
    with pairs as (
        select cdp_std_name(name) as group_name, cdp_std_name(variant) as member from _variants
        union
        select cdp_std_name(name), cdp_std_name(name) from _variants
    )
    select distinct group_name, member from pairs where group_name is not null and member is not null"""


def build_first_name_variants(con: duckdb.DuckDBPyConnection, variants: Iterable[tuple[str, str]]) -> int:
    """Write ``identity.first_name_variants(group_name, member)`` from ``name,variant`` rows.

    Each name of the dictionary is a group of itself and its variants, standardised like the
    records' first names. Groups are not chained together: "Jo" is a variant of both Joseph and
    Joséphine, which does not make Joseph a variant of Joséphine.
    """
    con.execute("create schema if not exists identity")
    con.execute("create or replace temp table _variants (name varchar, variant varchar)")
    con.executemany("insert into _variants values (?, ?)", list(variants))
    con.execute(f"create or replace table identity.first_name_variants as {FIRST_NAME_VARIANTS_SQL}")
    con.execute("drop table _variants")
    return con.execute("select count(*) from identity.first_name_variants").fetchall()[0][0]


# Each identity source, with the raw table its records come from and the column that identifies
# one (``source_record_id``). Visitors are aggregated from their web events (``visitor_events``).
RECORD_SOURCES = {
    "pos_tickets": ("pos_tickets", "num_ticket"),
    "ecommerce_customers": ("ecommerce_customers", "customer_id"),
    "ecommerce_orders": ("ecommerce_orders", "order_id"),
    "ecommerce_visitors": ("ecommerce_web_events", "visitor_id"),
    "crm_contacts": ("crm_contacts", "contact_id"),
    "crm_tickets": ("crm_tickets", "ticket_id"),
    "survey_responses": ("survey_responses", "response_id"),
}
# The raw tables records are made from (RECORDS_SQL also reads the stores, whose e-mail addresses
# are placeholders on every record).
READ_TABLES = tuple(sorted({table for table, _ in RECORD_SOURCES.values()}))
# Every raw table identity resolution reads: the record tables and the stores. What its Dagster
# asset depends on and what change detection watches (orchestration/runtime/changes.py).
IDENTITY_RAW_TABLES = ("pos_stores", *READ_TABLES)

# One select per identity-bearing source, all with the same columns. Raw column names differ by
# source; this is the only place that knows them.
RECORDS_SQL = """
create or replace table identity.records as
with store_emails as (
    select distinct cdp_std_email(email_magasin) as email
    from raw_current.pos_stores where email_magasin is not null
),
visitor_events as (
    select visitor_id,
           min(event_at) as seen_at,
           count(distinct customer_id) as accounts,
           any_value(customer_id) filter (where customer_id is not null) as account_id
    from raw_current.ecommerce_web_events
    group by visitor_id
    having count(*) filter (where customer_id is not null or event_type = 'checkout_completed') > 0
),
unioned as (
    select 'pos_tickets' as source_system, num_ticket as source_record_id,
           prenom_client as first_name, nom_client as last_name, date_naissance_client as birth_date,
           email_client as email, tel_client as phone, adresse_client as street,
           code_postal_client as postcode, ville_client as city,
           num_carte_fidelite as loyalty_card, null as account_id, null as contact_id,
           code_magasin as store_code, timezone('Europe/Paris', date_heure) as seen_at,
           {birth_parts:pos_tickets:date_naissance_client} as birth_parts
    from raw_current.pos_tickets
    where coalesce(num_carte_fidelite, email_client, tel_client, nom_client) is not null
    union all
    select 'ecommerce_customers', customer_id, first_name, last_name, birth_date, email, phone,
           address1, zip, city, null, customer_id, null, null, created_at,
           {birth_parts:ecommerce_customers:birth_date}
    from raw_current.ecommerce_customers
    union all
    select 'ecommerce_orders', order_id, billing_first_name, billing_last_name, null, email,
           billing_phone, billing_address1, billing_zip, billing_city, null, customer_id, null,
           pickup_store_code, created_at, null
    from raw_current.ecommerce_orders
    union all
    select 'ecommerce_visitors', visitor_id, null, null, null, null, null, null, null, null, null,
           case when accounts = 1 then account_id end, null, null, seen_at, null
    from visitor_events
    union all
    select 'crm_contacts', contact_id, firstname, lastname, date_of_birth, email, phone, address, zip,
           city, loyalty_card_number, null, contact_id, preferred_store_code, createdate,
           {birth_parts:crm_contacts:date_of_birth}
    from raw_current.crm_contacts
    union all
    select 'crm_tickets', ticket_id, split_part(trim(requester_name), ' ', 1),
           nullif(trim(substr(
               trim(requester_name), length(split_part(trim(requester_name), ' ', 1)) + 1
           )), ''),
           null, requester_email, requester_phone, null, null, null, null, null, contact_id, store_code,
           created_at, null
    from raw_current.crm_tickets
    union all
    select 'survey_responses', response_id, null, null, null, respondent_email, null, null, null, null,
           null, null, null, store_code, submitted_at, null
    from raw_current.survey_responses
)
select
    source_system || ':' || source_record_id as unique_id,
    source_system,
    source_record_id,
    cdp_std_name(first_name) as first_name,
    cdp_std_name(last_name) as last_name,
    -- As typed, for display in the golden record (dbt); matching uses the standardised values.
    nullif(trim(first_name), '') as first_name_as_typed,
    nullif(trim(last_name), '') as last_name_as_typed,
    nullif(trim(street), '') as street_as_typed,
    case when birth_date between date '1900-01-02' and current_date then birth_date end as birth_date,
    -- The birth date's parts as delivered, also when they make no calendar date (31/02, month 13,
    -- year 1028): matching compares them part by part (model.py).
    birth_parts.y as birth_year,
    birth_parts.m as birth_month,
    birth_parts.d as birth_day,
    case when cdp_std_email(email) in (select email from store_emails) then null
         else cdp_std_email(email) end as email,
    cdp_std_phone(phone) as phone,
    nullif(regexp_extract(cdp_std_street(street), '^(\\d+)', 1), '') as house_number,
    nullif(trim(regexp_replace(cdp_std_street(street), '^\\d+\\s*(bis|ter)?\\s*', '')), '') as street,
    cdp_std_postcode(postcode) as postcode,
    cdp_std_city(city) as city,
    nullif(regexp_replace(loyalty_card, '[^0-9]', '', 'g'), '') as loyalty_card,
    nullif(trim(account_id), '') as account_id,
    nullif(trim(contact_id), '') as contact_id,
    nullif(upper(trim(store_code)), '') as store_code,
    seen_at
from unioned
"""


# strptime codes of a date format, as regular-expression groups: which group holds which part.
_DATE_CODES = {"%Y": ("y", r"(\d{4})"), "%m": ("m", r"(\d{1,2})"), "%d": ("d", r"(\d{1,2})")}


def date_parts_sql(typed: str, delivered: str, date_format: str) -> str:
    """SQL for a struct ``(y, m, d)`` of a birth date: the typed date's parts when it is a calendar
    date, else the parts read from the delivered text by the export's date format (month 13, day
    0, 31/02 and year 1028 included), else NULL.

    The format is the source's current one (``sources.yml`` may change it); only formats made of
    ``%Y``, ``%m``, ``%d`` and separators can be read back when the date is not a calendar date.
    """
    pattern, groups, rest = "", {}, date_format
    while rest:
        code = rest[:2]
        if code in _DATE_CODES:
            part, group = _DATE_CODES[code]
            groups[part] = len(groups) + 1
            pattern += group
            rest = rest[2:]
        elif rest[0] == "%":  # another code (%b, %y...): the text is not read back
            pattern = ""
            break
        else:
            pattern += re.escape(rest[0])
            rest = rest[1:]
    from_typed = f"struct_pack(y := year({typed}), m := month({typed}), d := day({typed}))"
    if not pattern or set(groups) != {"y", "m", "d"}:
        return f"case when {typed} is not null then {from_typed} end"
    text = f"trim({delivered})"
    literal_pattern = "'" + pattern.replace("'", "''") + "'"
    parts = ", ".join(
        f"{part} := regexp_extract({text}, {literal_pattern}, {groups[part]})::int"
        for part in ("y", "m", "d")
    )
    return (
        f"case when {typed} is not null then {from_typed} "
        f"when regexp_full_match({text}, {literal_pattern}) then struct_pack({parts}) end"
    )


def _with_birth_parts(sql: str) -> str:
    """RECORDS_SQL with each ``{birth_parts:<table>:<column>}`` written for the table's format."""
    specs = {spec.table: spec for spec in effective_tables(get_settings().data_dir)}

    def expand(match: re.Match) -> str:
        spec = specs[match[1]]
        column = next(c for c in spec.columns if c.name == match[2])
        return date_parts_sql(f'"{column.name}"', f'"{column.delivered_column}"', spec.format.date_format)

    return re.sub(r"\{birth_parts:(\w+):(\w+)\}", expand, sql)


def latest_versions_where(table: str, where: str) -> str:
    """``raw_current.<table>`` restricted to the records with a raw row (any version) matching
    ``where``: the latest version of each, by the raw layer's own rule (``latest_versions_sql``),
    computed over those records only. The caller filters again on the latest version."""
    spec = next(spec for spec in ALL_TABLES if spec.table == table)
    latest = latest_versions_sql(spec)
    restricted = latest.replace(f"from raw.{table} ", f"from (select * from raw.{table} where {where}) ", 1)
    assert restricted != latest, latest
    return restricted


def records_sql(target: str = "identity.records", relations: Mapping[str, str] | None = None) -> str:
    """RECORDS_SQL writing ``target``, reading ``relations[table]`` instead of ``raw_current.<table>``
    for the tables given (an increment: the latest versions of the records delivered since)."""
    sql = _with_birth_parts(RECORDS_SQL).replace("table identity.records as", f"table {target} as", 1)
    for table, relation in (relations or {}).items():
        sql = re.sub(rf"raw_current\.{table}\b", relation, sql)
    return sql


def _prepare(con: duckdb.DuckDBPyConnection, identity: IdentitySettings) -> None:
    install_macros(con, identity.phonetic_first_names)
    # Identity reads the latest delivered version of each record (``raw_current``): a contact
    # corrected and exported again is one record, not two with the same id.
    for spec in ALL_TABLES:
        ensure_raw_schema(con, spec)
    con.execute("create schema if not exists identity")
    build_first_name_variants(con, identity.first_name_variants)


def build_identity_records(con: duckdb.DuckDBPyConnection, identity: IdentitySettings | None = None) -> int:
    """Write ``identity.records`` (and the first-name variants) from the raw layer; returns the
    number of records."""
    identity = identity or load_identity_settings()
    _prepare(con, identity)
    con.execute(records_sql())
    return con.execute("select count(*) from identity.records").fetchall()[0][0]


def update_identity_records(
    con: duckdb.DuckDBPyConnection,
    identity: IdentitySettings,
    relations: Mapping[str, str],
    touched: str,
    work: str,
) -> int:
    """Standardise again only the records ``touched(unique_id)`` names, from ``relations`` (per raw
    table of ``RECORD_SOURCES``: the latest version of every record delivered since the previous
    resolution; for web events, every event of the visitors concerned), and replace them in
    ``identity.records``; a touched record no longer made (a ticket re-sent without its customer)
    disappears. A record depends on its own raw row (a visitor on its events) and on the stores'
    e-mails only, so the others are what a full standardisation would make of them. Returns the
    number of records."""
    _standardise_delta(con, identity, relations, work)
    con.execute(
        f"""
        delete from identity.records where unique_id in (select unique_id from {touched});
        insert into identity.records
        select * from {work}.records_delta where unique_id in (select unique_id from {touched});
        """
    )
    return con.execute("select count(*) from identity.records").fetchall()[0][0]


def _standardise_delta(
    con: duckdb.DuckDBPyConnection, identity: IdentitySettings, relations: Mapping[str, str], work: str
) -> None:
    """``{work}.records_delta``: the records made from ``relations`` (see ``update_identity_records``)."""
    _prepare(con, identity)
    con.execute(records_sql(f"{work}.records_delta", relations))


def records_unchanged(
    con: duckdb.DuckDBPyConnection,
    identity: IdentitySettings,
    relations: Mapping[str, str],
    touched: str,
    work: str,
) -> bool:
    """Whether ``update_identity_records`` with the same arguments would leave ``identity.records``
    exactly as it is: every record ``touched`` names is made again with the same values (NULLs
    equal), none appears, none disappears. Reads and writes nothing else: a day whose deliveries
    only repeat what the warehouse holds is told apart without replacing a record."""
    _standardise_delta(con, identity, relations, work)
    mine = f"unique_id in (select unique_id from {touched})"
    differing = con.execute(
        f"""
        select count(*) from (
            (select * from {work}.records_delta where {mine}
             except all select * from identity.records where {mine})
            union all
            (select * from identity.records where {mine}
             except all select * from {work}.records_delta where {mine})
        )
        """
    ).fetchall()[0][0]
    return differing == 0
