"""CRM and service desk (in the spirit of HubSpot contacts and Zendesk tickets exports)."""

from orchestration.exports.spec import Column, CsvFormat, ExportTable

CRM_FORMAT = CsvFormat(delimiter=",", encoding="utf-8")

CONTACTS = ExportTable(
    source="crm",
    name="contacts",
    pattern="contacts_*.csv",
    format=CRM_FORMAT,
    key=("contact_id",),
    description="CRM contacts and loyalty members, in the file of the month they were created.",
    columns=(
        Column("contact_id", required=True),
        Column("email", pii=True),
        Column("firstname", pii=True),
        Column("lastname", pii=True),
        Column("phone", pii=True),
        Column("date_of_birth", "date", pii=True),
        Column("address", pii=True),
        Column("zip", pii=True),
        Column("city"),
        Column("loyalty_card_number", description="Card number, as scanned at the till.", pii=True),
        Column("loyalty_points", "integer"),
        Column("loyalty_tier", description="bronze, argent, or."),
        Column("preferred_store_code"),
        Column("favourite_universe"),
        Column("createdate", "timestamptz", required=True),
        Column("lastmodifieddate", "timestamptz"),
    ),
)

CONSENTS = ExportTable(
    source="crm",
    name="consents",
    pattern="consents_*.csv",
    format=CRM_FORMAT,
    key=("consent_id",),
    description="Consent statements per contact and channel; the latest statement wins.",
    columns=(
        Column("consent_id", required=True),
        Column("contact_id", required=True),
        Column("channel", required=True, description="email, sms, post."),
        Column("status", required=True, description="granted or withdrawn."),
        Column("stated_at", "timestamptz", required=True),
        Column("collected_via", description="store, web, service, campaign."),
    ),
)

TICKETS = ExportTable(
    source="crm",
    name="tickets",
    pattern="tickets_*.csv",
    format=CRM_FORMAT,
    key=("ticket_id",),
    description="Customer service tickets from chat, phone, e-mail and store desks.",
    columns=(
        Column("ticket_id", required=True),
        Column("channel", required=True, description="chat, phone, email, store."),
        Column("created_at", "timestamptz", required=True),
        Column("solved_at", "timestamptz"),
        Column("status", description="new, open, pending, solved, closed."),
        Column("resolution", description="resolved, not_resolved; empty while open."),
        Column("category", description="delivery, pickup, refund, product, loyalty, account, other."),
        Column("subject"),
        Column("requester_name", pii=True),
        Column("requester_email", pii=True),
        Column("requester_phone", pii=True),
        Column("contact_id", description="CRM contact, when the agent linked one."),
        Column("order_ref", description="Web order id or till ticket number mentioned."),
        Column("store_code"),
    ),
)

TABLES = (CONTACTS, CONSENTS, TICKETS)
