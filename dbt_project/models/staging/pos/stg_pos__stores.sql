with source as (
    select * from {{ source('pos', 'pos_stores') }}
),

latest as (
    select * from source
    qualify row_number() over (partition by code_magasin order by _loaded_at desc, _source_file desc) = 1
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
