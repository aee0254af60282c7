-- Channel transition matrix over all periods: one row per channel left and channel reached
-- (definitions in _kpi__docs.md, block journeys; per period in mart_channel_transitions_by_period).
{{ channel_transitions_by([]) }}
