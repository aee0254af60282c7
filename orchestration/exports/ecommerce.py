"""Web shop (in the spirit of Shopify exports) and web analytics (event stream as NDJSON)."""

from orchestration.exports.spec import Column, CsvFormat, ExportTable, NdjsonFormat

WEB_FORMAT = CsvFormat(delimiter=",", encoding="utf-8")

PRODUCTS = ExportTable(
    source="ecommerce",
    name="products",
    pattern="products*.csv",
    format=WEB_FORMAT,
    key=("sku",),
    description="Product catalogue shared by the web shop and the stores.",
    partitioned_by="none",
    columns=(
        Column("sku", required=True, description="Article code, as on till receipts."),
        Column("title", description="Product title."),
        Column("brand", description="Brand."),
        Column("universe", description="Product universe (ustensiles, cuisine pratique, ...)."),
        Column("category", description="Category within the universe."),
        Column("price", "decimal", description="List price incl. VAT, EUR."),
    ),
)

CUSTOMERS = ExportTable(
    source="ecommerce",
    name="customers",
    pattern="customers_*.csv",
    format=WEB_FORMAT,
    key=("customer_id",),
    description="Web shop accounts: one row per account, in the file of the month it was created.",
    columns=(
        Column("customer_id", required=True, description="Account id."),
        Column(
            "email",
            description="Login e-mail; empty for an account opened with a phone number only (SMS login).",
            pii=True,
        ),
        Column("first_name", description="First name as typed by the customer.", pii=True),
        Column("last_name", description="Last name as typed by the customer.", pii=True),
        Column("phone", description="Phone, free format.", pii=True),
        Column("birth_date", "date", description="Optional birth date.", pii=True, keep_as_delivered=True),
        Column("accepts_email_marketing", "boolean", description="Newsletter opt-in (true/false)."),
        Column("accepts_sms_marketing", "boolean", description="SMS opt-in (true/false)."),
        Column("address1", description="Default address, street.", pii=True),
        Column("zip", description="Default address, postcode.", pii=True),
        Column("city", description="Default address, city."),
        Column("country_code", description="ISO 3166 alpha-2 country."),
        Column("created_at", "timestamptz", required=True, description="Account creation time."),
        Column("address2", description="Default address, line 2 (building, flat).", pii=True),
    ),
)

ORDERS = ExportTable(
    source="ecommerce",
    name="orders",
    pattern="orders_*.csv",
    format=WEB_FORMAT,
    key=("order_id",),
    description=(
        "Web orders, including guest checkouts (no customer_id) and click & collect "
        "(fulfillment_method = store_pickup, with ready and collected times)."
    ),
    columns=(
        Column("order_id", required=True, description="Order number."),
        Column("customer_id", description="Account id; empty for a guest checkout."),
        Column(
            "email",
            description="Checkout e-mail (optional: phone or in-store orders may have none).",
            pii=True,
        ),
        Column("created_at", "timestamptz", required=True, description="Checkout time."),
        Column("financial_status", description="paid, refunded, partially_refunded."),
        Column(
            "fulfillment_method",
            required=True,
            description="home_delivery, relay_point, store_pickup.",
        ),
        Column("pickup_store_code", description="Store code for store_pickup."),
        Column(
            "ready_for_pickup_at", "timestamptz", description="Click & collect: when the order was ready."
        ),
        Column("collected_at", "timestamptz", description="Empty if never collected."),
        Column("subtotal", "decimal", description="Sum of lines, EUR."),
        Column("shipping", "decimal", description="Shipping fee, EUR."),
        Column("total", "decimal", required=True, description="Amount paid, EUR."),
        Column("refunded_amount", "decimal", description="Amount refunded, EUR (positive)."),
        Column(
            "currency",
            description="ISO 4217 currency; amounts are summed as euros, so only EUR is accepted.",
            values=("EUR",),
        ),
        Column("billing_first_name", description="Billing first name.", pii=True),
        Column("billing_last_name", description="Billing last name.", pii=True),
        Column("billing_phone", description="Billing phone, free format.", pii=True),
        Column("billing_address1", description="Billing street address.", pii=True),
        Column("billing_zip", description="Billing postcode.", pii=True),
        Column("billing_city", description="Billing city."),
        Column("billing_address2", description="Billing address, line 2 (building, flat).", pii=True),
    ),
)

ORDER_LINES = ExportTable(
    source="ecommerce",
    name="order_lines",
    pattern="order_lines_*.csv",
    format=WEB_FORMAT,
    key=("order_id", "line_number"),
    description="Web order lines.",
    columns=(
        Column("order_id", required=True, description="Order number."),
        Column("line_number", "integer", required=True, description="Line number in the order."),
        Column("sku", required=True, description="Article code."),
        Column("title", description="Product title at the time of the order."),
        Column("quantity", "integer", required=True, description="Units ordered."),
        Column("unit_price", "decimal", description="Unit price incl. VAT, EUR."),
        Column("discount", "decimal", description="Discount on the line, EUR."),
        Column("line_total", "decimal", required=True, description="Line amount paid, EUR."),
        Column("refunded_quantity", "integer", description="Units returned and refunded."),
    ),
)

WEB_EVENTS = ExportTable(
    source="ecommerce",
    name="web_events",
    pattern="web_events_*.ndjson",
    format=NdjsonFormat(),
    key=("event_id",),
    description=(
        "Web analytics events. visitor_id is an anonymous first-party cookie; customer_id is set "
        "on events after a login, and order_id on checkout_completed."
    ),
    columns=(
        Column("event_id", required=True, description="Event id."),
        Column(
            "event_type",
            required=True,
            description=(
                "session_start, product_view, add_to_cart, login, checkout_started, checkout_completed."
            ),
        ),
        Column("event_at", "timestamptz", required=True, description="Event time with UTC offset."),
        Column("visitor_id", required=True, description="Anonymous cookie id."),
        Column("session_id", required=True, description="Web session id."),
        Column("customer_id", description="Web account id once logged in."),
        Column("order_id", description="On checkout_completed."),
        Column("sku", description="On product_view and add_to_cart."),
        Column("page_url", description="Path of the page."),
        Column("device", description="desktop, mobile, tablet."),
        Column("utm_source", description="Campaign source, if any."),
    ),
)

TABLES = (PRODUCTS, CUSTOMERS, ORDERS, ORDER_LINES, WEB_EVENTS)
