-- What customers write about, per period over every touchpoint: one row per period and theme
-- (definitions in _kpi__docs.md, block verbatim_themes).
{{ verbatim_themes_by(['period_start']) }}
