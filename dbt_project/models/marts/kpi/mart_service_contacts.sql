-- Service centre per period, every contact channel together: one row per period (definitions in
-- _kpi__docs.md, block service; per contact channel in mart_service_contacts_by_contact_channel).
{{ service_contacts_by([]) }}
