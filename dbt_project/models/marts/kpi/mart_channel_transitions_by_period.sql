-- Channel transition matrix per period: one row per period of the later journey step, channel
-- left and channel reached (definitions in _kpi__docs.md, block journeys).
{{ channel_transitions_by(['period_start']) }}
