{#- The average order value, the one definition every mart that publishes one uses (_kpi__docs.md,
    block average_order_value): net merchandise revenue without VAT (HT, shipping excluded, web
    refunds and till returns netted to their sale) over the sales it comes from. `net_ht` is a sum
    of int_sales_netted.net_merchandise_amount_ht (or of the same amount attributed to customers,
    dim_customers.lifetime_merchandise_revenue_ht), `sales` the number of sales. -#}
{% macro average_order_value(net_ht, sales) -%}
    round({{ net_ht }} / nullif({{ sales }}, 0), 2)
{%- endmacro %}
