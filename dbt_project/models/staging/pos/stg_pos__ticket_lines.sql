-- depends_on: {{ ref('stg_pos__tickets') }} (the cut at var as_of keeps the lines of the tickets it keeps)
{{ config(**incremental_staging('ticket_line_id')) }}
with source as (
    select * from {{ source('pos', 'pos_ticket_lines') }}
    {% if is_incremental() -%}
    {{ delivered_since_last_build(source('pos', 'pos_ticket_lines'), 'num_ticket, num_ligne') }}
    {%- endif %}
),

latest as (
    select * from source
    {{ latest_delivered('num_ticket, num_ligne') }}
),

renamed as (
    select
        num_ticket || '-' || num_ligne as ticket_line_id,
        num_ticket as ticket_id,
        num_ligne as line_number,
        trim(code_article) as sku,
        libelle as product_title,
        quantite as quantity,
        prix_unitaire_ttc as unit_price,
        remise_ttc as discount,
        montant_ttc as line_amount,
        _loaded_at as loaded_at
    from latest
),

at_as_of as (
    -- A line is dated by its ticket: the lines of a ticket after as_of are not there yet.
    select * from renamed
    {% if as_of_var() -%}
    where ticket_id in (select ticket_id from {{ ref('stg_pos__tickets') }})
    {%- endif %}
)

select * from at_as_of
