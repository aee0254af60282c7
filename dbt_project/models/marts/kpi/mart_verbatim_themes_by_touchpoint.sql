-- What customers write about, per touchpoint surveyed over all periods: one row per touchpoint
-- and theme (definitions in _kpi__docs.md, block verbatim_themes).
{{ verbatim_themes_by(['touchpoint']) }}
