"""Scale-out: one independent MMM per group (brand, market, product line), on Spark.

:func:`mediamix.scaleout.runner.fit_many` runs :func:`mediamix.scaleout.group.fit_group` for
every group, as Spark ``applyInPandas`` tasks or in-process, and
:mod:`mediamix.scaleout.record` records the results in Delta and MLflow from the driver.
"""
