-- The channel sequences that lead to a purchase, per period of the purchase: one row per period
-- and path (definitions in _kpi__docs.md, block journeys).
{{ purchase_paths_by(['period_start']) }}
