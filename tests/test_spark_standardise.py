"""The standardisation functions on Spark (``identity/spark/standardise.py``) equal the DuckDB macros
value for value: on hand-written test vectors and on every distinct raw value of a generated
sample of 2,000 customers (names, e-mails, phones, streets, postcodes, cities as the exports
deliver them).

Spark runs locally (``local[2]``); the module is skipped, with the reason, without Java or pyspark
(the ``spark`` extra).
"""

from __future__ import annotations

import duckdb
import pytest

from orchestration.exports import ALL_TABLES
from orchestration.generate import generate
from orchestration.identity.spark.standardise import FUNCTIONS
from orchestration.identity.standardise import build_identity_records, install_macros, records_sql
from orchestration.ingest.loader import load_table

pytestmark = pytest.mark.spark

SAMPLE_CUSTOMERS = 2000
# Inputs each function is applied to; the raw columns of the sample are added to them.
VECTORS = {
    "names": [
        None,
        "",
        "  ",
        "Éléonore",
        "JEAN-PIERRE",
        "Jean Pierre",
        "jean.pierre",
        "M. Dupont",
        "Mme  Le Gall",
        "MADAME",
        "d'Artagnan",
        "Ødegaard",
        "Straße",
        "Œuvre",
        "ÇA",
        "Nguyễn",
        "  Zoé\tMarie  ",
        "Mr.Smith",
        "j",
        "Ana\u000bMaria",
        "Dr House",
        "mlle",
        "Anaïs",
        "Thérèse",
    ],
    "emails": [
        None,
        "",
        "Jean.Dupont@Gmail.com",
        "jean.dupont+promo@googlemail.com",
        " a b@c.fr ",
        "test@exemple.fr",
        "pasdemail@x.fr",
        "no@x.fr",
        "a@b",
        "a@b.c0",
        "x@y.FR",
        "a@@b.fr",
        "jean@orange.fr\n",
        "é@a.fr",
        "a.b.c@gmail.com",
        "a\u000b@b.fr",
    ],
    "phones": [
        None,
        "",
        "06 12 34 56 78",
        "+33 6 12 34 56 78",
        "0033612345678",
        "+33 (0)6 12 34 56 78",
        "33612345678",
        "0612345678",
        "06.12.34.56.78",
        "0000000000",
        "0123456789",
        "612345678",
        "+44 20 7946 0958",
        "07-11-22-33-44",
        "01 23 45 67 89",
        "0 6 1 2 3 4 5 6 7 8",
    ],
    "postcodes": [None, "", "69003", "6900", "F-75001", "750001", "2A004", " 01000 ", "1000"],
    "cities": [
        None,
        "",
        "Saint-Étienne",
        "ST ETIENNE",
        "Ste-Foy-lès-Lyon",
        "L'Isle-d'Abeau",
        "Lyon 3e",
        "st-malo",
        "Stella",
        "  Paris  ",
    ],
    "streets": [
        None,
        "",
        "12 av. des Tilleuls",
        "4 bd Pasteur",
        "3 r. de la Paix, Appt 12",
        "Chem. du Moulin",
        "1 all des Pins bât B",
        "2 pl. Bellecour",
        "5 imp. du Lavoir",
        "Rte de Lyon",
        "8 rue X 3e étage",
        "10 boul Voltaire",
        "7 bld Haussmann, Résidence Les Lilas",
        "9 rue du av",
    ],
}
# Function → which inputs it is compared on.
APPLIED = {
    "cdp_clean_text": ("names", "cities", "streets"),
    "cdp_std_name": ("names",),
    "cdp_std_email": ("emails",),
    "cdp_std_phone": ("phones",),
    "cdp_std_postcode": ("postcodes",),
    "cdp_std_city": ("cities",),
    "cdp_std_street": ("streets",),
}
# Raw columns of the records (RECORDS_SQL's union of the sources) feeding each kind of input.
RAW = {
    "names": ("first_name", "last_name"),
    "emails": ("email",),
    "phones": ("phone",),
    "postcodes": ("postcode",),
    "cities": ("city",),
    "streets": ("street",),
}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str | None]]:
    """The test vectors plus every distinct raw value of a 2,000-customer sample."""
    root = tmp_path_factory.mktemp("standardise")
    generate(root / "landing", root / "truth", customers=SAMPLE_CUSTOMERS, seed=7, days=120)
    con = duckdb.connect(str(root / "cdp.duckdb"))
    for spec in ALL_TABLES:
        load_table(con, spec, root / "landing", root / "quarantine", log=lambda _: None)
    build_identity_records(con)
    # The records' sources as delivered: RECORDS_SQL up to its union, before standardisation.
    unioned = records_sql().split("\nselect\n    source_system || ':'")[0]
    unioned = (
        unioned.replace("create or replace table identity.records as", "", 1) + "\nselect * from unioned"
    )
    found = {kind: list(values) for kind, values in VECTORS.items()}
    for kind, columns in RAW.items():
        for column in columns:
            rows = con.execute(f"select distinct {column}::varchar from ({unioned})").fetchall()
            found[kind] += [r[0] for r in rows]
    con.close()
    return {kind: sorted(set(values), key=lambda v: (v is None, v or "")) for kind, values in found.items()}


def _duckdb(function: str, values: list[str | None]) -> dict[str | None, object]:
    con = duckdb.connect()
    install_macros(con, temporary=True)
    con.execute("create temp table v (x varchar)")
    con.executemany("insert into v values (?)", [(v,) for v in values])
    out = dict(con.execute(f"select x, {function}(x) from v").fetchall())
    con.close()
    return out


def _spark(spark, function: str, values: list[str | None]) -> dict[str | None, object]:
    frame = spark.createDataFrame([(v,) for v in values], "x string")
    frame.createOrReplaceTempView("v")
    return {r[0]: r[1] for r in spark.sql(f"select x, {function}(x) from v").collect()}


@pytest.mark.parametrize("function", sorted(APPLIED))
def test_each_function_equals_its_duckdb_macro(spark, inputs, function: str) -> None:
    values = [v for kind in APPLIED[function] for v in inputs[kind]]
    expected, got = _duckdb(function, values), _spark(spark, function, values)
    differing = {v: (expected[v], got[v]) for v in expected if expected[v] != got[v]}
    assert differing == {}
    # The sample's values, not only the vectors, were compared.
    assert len(values) > sum(len(VECTORS[kind]) for kind in APPLIED[function]) + 50


def test_the_functions_of_standardised_values_equal_their_macros(spark, inputs) -> None:
    """The phonetic key reads standardised names and the mobile test standardised phones."""
    names = [v for v in _duckdb("cdp_std_name", inputs["names"]).values() if v is not None]
    phones = [v for v in _duckdb("cdp_std_phone", inputs["phones"]).values() if v is not None]
    for function, values in (("cdp_phonetic", names), ("cdp_is_mobile", phones)):
        expected, got = _duckdb(function, values), _spark(spark, function, values)
        assert {v: (expected[v], got[v]) for v in expected if expected[v] != got[v]} == {}, function
    assert len(set(names)) > 500 and len(set(phones)) > 500


def test_every_standardisation_function_is_compared() -> None:
    assert set(FUNCTIONS) == {*APPLIED, "cdp_phonetic", "cdp_is_mobile"}
