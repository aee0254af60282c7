with source as (
    select * from {{ source('pos', 'pos_stores') }}
),

latest as (
    select * from source
    {{ latest_delivered('code_magasin') }}
),

renamed as (
    select
        upper(trim(code_magasin)) as store_code,
        trim(nom_magasin) as store_name,
        trim(adresse) as street,
        trim(code_postal) as postcode,
        trim(ville) as city,
        lower(trim(email_magasin)) as store_email,
        date_ouverture as opened_on
    from latest
)

select * from renamed
