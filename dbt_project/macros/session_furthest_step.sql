{#- How far a web session went on the way to an order: 0 landed, 1 viewed a product, 2 added to
    cart, 3 started checkout, 4 placed the order (checkout completed). A later step implies the
    earlier ones (a cart link opened straight into checkout still went through it), so a session
    has one furthest step: the checkout funnel counts it there, and the journey drop-offs stop it
    at one point only. -#}
{% macro session_furthest_step(session='') -%}
    case
        when {{ session }}has_checkout_completed then 4
        when {{ session }}has_checkout_started then 3
        when {{ session }}add_to_cart_events > 0 then 2
        when {{ session }}product_views > 0 then 1
        else 0
    end
{%- endmacro %}
