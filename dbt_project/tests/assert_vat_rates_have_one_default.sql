-- The seed vat_rates has exactly one default row (blank universe): the rate of any universe it
-- does not list. Returns a row when there is none or more than one.
{{ config(meta={'dagster': {'ref': {'name': 'vat_rates'}}}) }}

with vat_rates as (
    select * from {{ ref('vat_rates') }}
),

defaults as (
    select count(*) as default_rows
    from vat_rates
    where universe is null
)

select * from defaults where default_rows <> 1
