with source as (
    select * from {{ source('pos', 'pos_ticket_lines') }}
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
)

select * from renamed
