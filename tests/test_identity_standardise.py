"""Identity standardisation (issue 3, first part): the SQL macros on hand-written values."""

from __future__ import annotations

import duckdb
import pytest

from orchestration.identity.standardise import install_macros


@pytest.fixture(scope="module")
def sql():
    con = duckdb.connect()
    install_macros(con)

    def run(expression: str, value):
        return con.execute(f"select {expression}(?)", [value]).fetchall()[0][0]

    yield run
    con.close()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Jean-Pierre", "jeanpierre"),
        ("JEAN PIERRE", "jeanpierre"),
        ("  jean-pierre ", "jeanpierre"),
        ("Mme Hélène", "helene"),
        ("J.", "j"),
        ("Le Gall", "legall"),
        ("N'Diaye", "ndiaye"),
        ("", None),
        (None, None),
    ],
)
def test_names(sql, raw, expected) -> None:
    assert sql("cdp_std_name", raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" Jean.Dupont@Orange.fr ", "jean.dupont@orange.fr"),
        ("jean.dupont+promo@gmail.com", "jeandupont@gmail.com"),  # Gmail ignores dots and +tags
        ("jean.dupont+promo@orange.fr", "jean.dupont+promo@orange.fr"),  # others may not
        ("JD@googlemail.com", "jd@gmail.com"),
        ("test@test.fr", None),
        ("pasdemail@batterie-et-co.fr", None),
        ("not an email", None),
        ("a@b", None),
    ],
)
def test_emails(sql, raw, expected) -> None:
    assert sql("cdp_std_email", raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("06 12 34 56 78", "+33612345678"),
        ("0612345678", "+33612345678"),
        ("+33612345678", "+33612345678"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("0033612345678", "+33612345678"),
        ("06.12.34.56.78", "+33612345678"),
        ("+33 (0)612345678", "+33612345678"),
        ("0000000000", None),
        ("0123456789", None),
        ("12 34", None),
    ],
)
def test_phones(sql, raw, expected) -> None:
    assert sql("cdp_std_phone", raw) == expected


@pytest.mark.parametrize(
    ("expression", "raw", "expected"),
    [
        ("cdp_std_street", "12, av. de la  République, appt 4", "12 avenue de la republique"),
        ("cdp_std_street", "3 bd Victor Hugo", "3 boulevard victor hugo"),
        ("cdp_std_street", "5 r. des Écoles", "5 rue des ecoles"),
        ("cdp_std_street", "8 chem. du Moulin, bât. B", "8 chemin du moulin"),
        ("cdp_std_postcode", "6000", "06000"),
        ("cdp_std_postcode", "75 011", "75011"),
        ("cdp_std_postcode", "ABC", None),
        ("cdp_std_city", "St-Étienne", "saint etienne"),
        ("cdp_std_city", "AIX-EN-PROVENCE", "aix en provence"),
    ],
)
def test_addresses(sql, expression, raw, expected) -> None:
    assert sql(expression, raw) == expected
