-- What customers write about, at the finest grain: one row per period, touchpoint surveyed and
-- theme; its counts add up to every other verbatim themes mart (definitions in _kpi__docs.md,
-- block verbatim_themes).
{{ verbatim_themes_by(['period_start', 'touchpoint']) }}
