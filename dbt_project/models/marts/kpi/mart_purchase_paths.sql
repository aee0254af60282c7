-- The channel sequences that lead to a purchase, over all periods: one row per path (definitions
-- in _kpi__docs.md, block journeys; per period in mart_purchase_paths_by_period).
{{ purchase_paths_by([]) }}
