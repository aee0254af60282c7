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
    version_order="lastmodifieddate desc nulls last",
    columns=(
        Column("contact_id", required=True, description="CRM contact id."),
        Column("email", description="Main e-mail.", pii=True),
        Column("firstname", description="First name.", pii=True),
        Column("lastname", description="Last name (sometimes the maiden name).", pii=True),
        Column("phone", description="Phone, free format.", pii=True),
        Column("date_of_birth", "date", description="Birth date.", pii=True, keep_as_delivered=True),
        Column("address", description="Street address.", pii=True),
        Column("zip", description="Postcode.", pii=True),
        Column("city", description="City."),
        Column("loyalty_card_number", description="Card number, as scanned at the till.", pii=True),
        Column("loyalty_points", "integer", description="Points balance."),
        Column("loyalty_tier", description="bronze, argent, or."),
        Column("preferred_store_code", description="Home store of the member."),
        Column("favourite_universe", description="Declared favourite product universe."),
        Column("createdate", "timestamptz", required=True, description="Contact creation time."),
        Column("lastmodifieddate", "timestamptz", description="Last update of the contact."),
        Column("address2", description="Address line 2 (building, flat).", pii=True),
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
        Column("consent_id", required=True, description="Statement id."),
        Column("contact_id", required=True, description="CRM contact id."),
        Column("channel", required=True, description="email, sms, post."),
        Column("status", required=True, description="granted or withdrawn."),
        Column("stated_at", "timestamptz", required=True, description="When the statement was made."),
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
        Column("ticket_id", required=True, description="Service ticket id."),
        Column("channel", required=True, description="chat, phone, email, store."),
        Column("created_at", "timestamptz", required=True, description="When the contact was opened."),
        Column("solved_at", "timestamptz", description="When it was solved or closed."),
        Column("status", description="new, open, pending, solved, closed."),
        Column("resolution", description="resolved, not_resolved; empty while open."),
        Column("category", description="delivery, pickup, refund, product, loyalty, account, other."),
        Column("subject", description="Subject line."),
        Column("requester_name", description="Name given by the requester.", pii=True),
        Column("requester_email", description="E-mail given by the requester.", pii=True),
        Column("requester_phone", description="Phone given by the requester.", pii=True),
        Column("contact_id", description="CRM contact, when the agent linked one."),
        Column("order_ref", description="Web order id or till ticket number mentioned."),
        Column("store_code", description="Store of an in-store service desk contact."),
    ),
)

TABLES = (CONTACTS, CONSENTS, TICKETS)
