"""Identity resolution on Apache Spark: the pieces built so far (standardisation functions equal to
the DuckDB macros). pyspark is imported only here, and only by what runs on Spark: a default
installation (without the ``spark`` extra) never loads it."""
