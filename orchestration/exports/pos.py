"""Store tills (POS): exported the way French POS tools do it.

Semicolon-separated, Windows-1252, decimal comma, ``dd/mm/yyyy`` dates, French column names.
Returns are tickets of type ``RETOUR`` with negative quantities and amounts.
"""

from orchestration.exports.spec import Column, CsvFormat, ExportTable

POS_FORMAT = CsvFormat(
    delimiter=";",
    encoding="cp1252",
    decimal_comma=True,
    date_format="%d/%m/%Y",
    timestamp_format="%d/%m/%Y %H:%M:%S",
)

STORES = ExportTable(
    source="pos",
    name="stores",
    pattern="magasins*.csv",
    format=POS_FORMAT,
    key=("code_magasin",),
    description="Store master data: one row per store.",
    partitioned_by="none",
    columns=(
        Column("code_magasin", required=True, description="Store code, e.g. M012."),
        Column("nom_magasin", description="Store name."),
        Column("adresse", description="Street address."),
        Column("code_postal", description="Postcode."),
        Column("ville", description="City."),
        Column("email_magasin", description="The store's own e-mail (staff sometimes type it)."),
        Column("telephone_magasin", description="The store's phone number."),
        Column("date_ouverture", "date", description="Opening date."),
    ),
)

TICKETS = ExportTable(
    source="pos",
    name="tickets",
    pattern="tickets_*.csv",
    format=POS_FORMAT,
    key=("num_ticket",),
    description="Till receipts (headers): one row per sale or return ticket.",
    columns=(
        Column("num_ticket", required=True, description="Ticket number, unique across stores."),
        Column("code_magasin", required=True, description="Store code."),
        Column("num_caisse", "integer", description="Till number."),
        Column("date_heure", "timestamp", required=True, description="Local time (Europe/Paris)."),
        Column(
            "type_ticket",
            required=True,
            description="VENTE (sale) or RETOUR (return).",
            values=("VENTE", "RETOUR"),
        ),
        Column("num_ticket_origine", description="For a return: the original sale ticket."),
        Column("num_carte_fidelite", description="Loyalty card number, when scanned.", pii=True),
        Column("email_client", description="E-mail typed by staff, if any.", pii=True),
        Column("tel_client", description="Phone typed by staff, if any.", pii=True),
        Column("nom_client", description="Customer last name typed by staff.", pii=True),
        Column("prenom_client", description="Customer first name typed by staff.", pii=True),
        Column("montant_ttc", "decimal", required=True, description="Total incl. VAT, EUR."),
        Column("mode_reglement", description="CB, ESPECES, CHEQUE, CARTE_CADEAU."),
        # Tills that capture the customer for delivery or a warranty export these; ours are empty.
        Column("adresse_client", description="Customer street address, if captured.", pii=True),
        Column("code_postal_client", description="Customer postcode, if captured.", pii=True),
        Column("ville_client", description="Customer city, if captured."),
        Column(
            "date_naissance_client",
            "date",
            description="Customer birth date, if captured.",
            pii=True,
            keep_as_delivered=True,
        ),
    ),
)

TICKET_LINES = ExportTable(
    source="pos",
    name="ticket_lines",
    pattern="lignes_tickets_*.csv",
    format=POS_FORMAT,
    key=("num_ticket", "num_ligne"),
    description="Till receipt lines: one row per article on a ticket.",
    columns=(
        Column("num_ticket", required=True, description="Ticket number."),
        Column("num_ligne", "integer", required=True, description="Line number on the ticket."),
        Column("code_article", required=True, description="SKU."),
        Column("libelle", description="Article label."),
        Column("quantite", "integer", required=True, description="Negative on returns."),
        Column("prix_unitaire_ttc", "decimal", description="Unit price incl. VAT, EUR."),
        Column("remise_ttc", "decimal", description="Discount incl. VAT, EUR."),
        Column("montant_ttc", "decimal", required=True, description="Line total, EUR, signed."),
    ),
)

TABLES = (STORES, TICKETS, TICKET_LINES)
