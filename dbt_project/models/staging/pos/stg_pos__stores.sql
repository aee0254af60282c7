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
),

at_as_of as (
    -- A store opened after as_of is not there yet.
    select * from renamed
    where opened_on is null or {{ happened_by_as_of('opened_on') }}
)

select * from at_as_of
