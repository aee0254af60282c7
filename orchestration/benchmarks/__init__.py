"""Benchmarks of identity resolution on labelled data sets this project did not write.

``cdp bench`` measures the pipeline on the generator's data, whose noise this project chose; the
modules here convert public record-linkage test sets into our export formats, so the identity step
is also judged on mistakes nobody here designed (``rldata``: RLdata500 and RLdata10000).
"""
