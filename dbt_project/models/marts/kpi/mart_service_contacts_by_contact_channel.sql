-- Service centre per period and contact channel: one row per period and channel (definitions in
-- _kpi__docs.md, block service; every channel together in mart_service_contacts).
{{ service_contacts_by(['contact_channel']) }}
