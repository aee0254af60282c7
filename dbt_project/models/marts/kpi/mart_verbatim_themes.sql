-- What customers write about, over all periods and touchpoints: one row per theme (definitions
-- in _kpi__docs.md, block verbatim_themes; the same measures per period and touchpoint in
-- mart_verbatim_themes_by_period, _by_touchpoint and _by_period_and_touchpoint).
{{ verbatim_themes_by([]) }}
