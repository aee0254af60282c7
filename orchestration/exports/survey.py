"""Survey tool responses (in the spirit of Typeform / Qualtrics CSV exports, UTF-8 with BOM)."""

from orchestration.exports.spec import Column, CsvFormat, ExportTable

RESPONSES = ExportTable(
    source="survey",
    name="responses",
    pattern="responses_*.csv",
    format=CsvFormat(delimiter=",", encoding="utf-8"),
    key=("response_id",),
    description=(
        "Survey answers sent after a purchase, a service contact or a click & collect pickup. "
        "Verbatims are free French text: multi-line, quotes, commas, semicolons, emojis."
    ),
    columns=(
        Column("response_id", required=True, description="Response id."),
        Column("survey_id", required=True, description="Survey (one per touchpoint)."),
        Column(
            "touchpoint",
            required=True,
            description=("store_purchase, web_purchase, service_contact, click_and_collect_pickup."),
        ),
        Column("submitted_at", "timestamptz", required=True, description="When the answer was submitted."),
        Column("respondent_email", description="Often missing.", pii=True),
        Column("nps", "integer", description="0-10: how likely to recommend."),
        Column("csat", "integer", description="1-5: satisfaction."),
        Column("ces", "integer", description="1-7: ease (7 = very easy)."),
        Column("verbatim", description="Free text, French.", pii=True),
        Column("order_ref", description="Till ticket or web order the survey followed."),
        Column("ticket_ref", description="Service ticket the survey followed."),
        Column("store_code", description="Store concerned, if any."),
    ),
)

TABLES = (RESPONSES,)
