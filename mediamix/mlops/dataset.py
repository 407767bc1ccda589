"""The modeling frame logged as an MLflow run's training input, with where it came from."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mlflow

from mediamix.inference.fit import FitResult
from mediamix.runtime import on_databricks

__all__ = ["log_dataset"]


def log_dataset(result: FitResult, data_source: Mapping[str, str]) -> None:
    """Log the modeling frame as the run's training input, with where it came from."""
    from mlflow.data.dataset_source_registry import get_dataset_source_from_json
    from mlflow.data.delta_dataset_source import DeltaDatasetSource
    from mlflow.data.pandas_dataset import from_pandas

    source: Any = None
    name = "modeling_frame"
    if data_source.get("kind") == "table":
        name = data_source["table"]
        version = int(data_source["version"]) if data_source.get("version") else None
        if on_databricks():
            source = DeltaDatasetSource(delta_table_name=name, delta_table_version=version)
        elif data_source.get("location"):
            path = data_source["location"]
            source = DeltaDatasetSource(path=path, delta_table_version=version)
    elif data_source.get("path"):
        path = str(Path(data_source["path"]).resolve())
        source = get_dataset_source_from_json(json.dumps({"uri": path}), "local")
        name = Path(path).stem
    dataset = from_pandas(
        result.frame, source=source, name=name, targets=result.config.outcome.name
    )
    mlflow.log_input(dataset, context="training")
