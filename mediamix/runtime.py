"""Where the code runs: inside a Databricks runtime or anywhere else.

The one test of the Databricks runtime, shared by the table backend choice, MLflow tracking and
the registered model's name, so they never disagree about where they are.
"""

from __future__ import annotations

import os

__all__ = ["DATABRICKS_RUNTIME_ENV", "on_databricks"]

#: Set by every Databricks runtime (its version), absent elsewhere.
DATABRICKS_RUNTIME_ENV = "DATABRICKS_RUNTIME_VERSION"


def on_databricks() -> bool:
    """Whether this process runs inside a Databricks runtime (cluster, serverless or job)."""
    return bool(os.environ.get(DATABRICKS_RUNTIME_ENV))
