"""Shared helpers with no knowledge of the pipeline: SQL quoting, atomic files, secrets, the dbt project."""
