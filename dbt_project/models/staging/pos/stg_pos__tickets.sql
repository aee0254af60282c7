{{ config(**incremental_staging('ticket_id')) }}
with source as (
    select * from {{ source('pos', 'pos_tickets') }}
    {% if is_incremental() -%}
    {{ delivered_since_last_build(source('pos', 'pos_tickets'), 'num_ticket') }}
    {%- endif %}
),

latest as (
    select * from source
    {{ latest_delivered('num_ticket') }}
),

renamed as (
    select
        num_ticket as ticket_id,
        upper(trim(code_magasin)) as store_code,
        num_caisse as till_number,
        -- The till writes local Paris time without an offset.
        timezone('Europe/Paris', date_heure) as sold_at,
        case upper(trim(type_ticket)) when 'VENTE' then 'sale' when 'RETOUR' then 'return' end as ticket_type,
        num_ticket_origine as original_ticket_id,
        nullif(regexp_replace(num_carte_fidelite, '[^0-9]', '', 'g'), '') as loyalty_card,
        nullif(trim(prenom_client), '') as customer_first_name,
        nullif(trim(nom_client), '') as customer_last_name,
        lower(trim(email_client)) as customer_email,
        nullif(trim(tel_client), '') as customer_phone,
        montant_ttc as amount,
        lower(mode_reglement) as payment_method,
        _source_file as source_file,
        _source_line as source_line,
        _loaded_at as loaded_at
    from latest
),

at_as_of as (
    -- As an export taken at as_of shows them (macro happened_by_as_of): later tickets, sales
    -- and returns alike, are not there yet.
    select * from renamed
    where {{ happened_by_as_of('sold_at') }}
)

select * from at_as_of
