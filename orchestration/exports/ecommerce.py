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
        Column("email", required=True, description="Login e-mail.", pii=True),
        Column("first_name", pii=True),
        Column("last_name", pii=True),
        Column("phone", pii=True),
        Column("birth_date", "date", pii=True),
        Column("accepts_email_marketing", "boolean"),
        Column("accepts_sms_marketing", "boolean"),
        Column("address1", description="Default address, street.", pii=True),
        Column("zip", description="Default address, postcode.", pii=True),
        Column("city", description="Default address, city."),
        Column("country_code"),
        Column("created_at", "timestamptz", required=True),
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
        Column("order_id", required=True),
        Column("customer_id", description="Account id; empty for a guest checkout."),
        Column("email", required=True, description="Checkout e-mail.", pii=True),
        Column("created_at", "timestamptz", required=True),
        Column("financial_status", description="paid, refunded, partially_refunded."),
        Column(
            "fulfillment_method",
            required=True,
            description="home_delivery, relay_point, store_pickup.",
        ),
        Column("pickup_store_code", description="Store code for store_pickup."),
        Column("ready_for_pickup_at", "timestamptz"),
        Column("collected_at", "timestamptz", description="Empty if never collected."),
        Column("subtotal", "decimal"),
        Column("shipping", "decimal"),
        Column("total", "decimal", required=True, description="Amount paid, EUR."),
        Column("refunded_amount", "decimal", description="Amount refunded, EUR (positive)."),
        Column("currency"),
        Column("billing_first_name", pii=True),
        Column("billing_last_name", pii=True),
        Column("billing_phone", pii=True),
        Column("billing_address1", pii=True),
        Column("billing_zip", pii=True),
        Column("billing_city"),
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
        Column("order_id", required=True),
        Column("line_number", "integer", required=True),
        Column("sku", required=True),
        Column("title"),
        Column("quantity", "integer", required=True),
        Column("unit_price", "decimal"),
        Column("discount", "decimal"),
        Column("line_total", "decimal", required=True),
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
        Column("event_id", required=True),
        Column(
            "event_type",
            required=True,
            description=(
                "session_start, page_view, product_view, add_to_cart, login, checkout_started, "
                "checkout_completed."
            ),
        ),
        Column("event_at", "timestamptz", required=True),
        Column("visitor_id", required=True, description="Anonymous cookie id."),
        Column("session_id", required=True),
        Column("customer_id", description="Web account id once logged in."),
        Column("order_id", description="On checkout_completed."),
        Column("sku", description="On product_view and add_to_cart."),
        Column("page_url"),
        Column("device", description="desktop, mobile, tablet."),
        Column("utm_source"),
    ),
)

TABLES = (PRODUCTS, CUSTOMERS, ORDERS, ORDER_LINES, WEB_EVENTS)
