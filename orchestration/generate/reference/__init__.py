"""Reference data for the demo retailer: a French kitchenware chain with stores and a web shop.

Names come from Faker's fr_FR provider lists; cities and postcodes are real (population weights are
rough); the vocabulary for products and survey verbatims is ours. One module per kind of data:
``names`` (first and last names, nicknames and spellings), ``addresses`` (cities, streets, the
chain's stores, e-mail providers) and ``retailer`` (its domain, catalogue, brands, and what
customers write to it).
"""
