"""pandas <-> Arrow with Delta's types, the form in which both backends move rows.

Naive datetimes (calendar dates) become Arrow ``date32`` (Delta ``date``) and tz-aware ones
``timestamp[us, UTC]`` (Delta ``timestamp``); reading back gives
:data:`~mediamix.data.frames.DATE_DTYPE` and :data:`~mediamix.data.frames.TIMESTAMP_DTYPE`.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from mediamix.data.frames import DATE_DTYPE, TIMESTAMP_DTYPE
from mediamix.lakehouse.backend import check_columns, normalize_dates
from mediamix.lakehouse.names import LakeError, TableName

__all__ = ["from_arrow", "to_arrow"]


def _arrow_column(s: pd.Series) -> pa.Array:
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        naive = s.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[us]")
        return pa.array(naive, type=pa.timestamp("us", tz="UTC"), from_pandas=True)
    if pd.api.types.is_datetime64_dtype(s.dtype):
        stamps = pa.array(s.to_numpy(DATE_DTYPE), from_pandas=True)
        return stamps.cast(pa.date32())
    arr = pa.array(s, from_pandas=True)
    if pa.types.is_large_string(arr.type) or pa.types.is_null(arr.type):
        arr = arr.cast(pa.string())
    return arr


def to_arrow(df: pd.DataFrame, table: TableName | str) -> pa.Table:
    """Convert a frame to Arrow with Delta-friendly types (naive datetimes become ``date32``)."""
    check_columns(df, table)
    df = normalize_dates(df, table)
    try:
        arrays = [_arrow_column(df[c]) for c in df.columns]
    except (pa.ArrowException, TypeError, ValueError) as exc:
        raise LakeError(f"{table}: cannot convert the data to Arrow: {exc}") from None
    return pa.Table.from_arrays(arrays, names=[str(c) for c in df.columns])


def from_arrow(tbl: pa.Table) -> pd.DataFrame:
    """Convert Arrow to pandas: ``date32`` to ``datetime64[us]``, timestamps to UTC."""
    df = tbl.to_pandas(date_as_object=False)
    for f in tbl.schema:
        if pa.types.is_date(f.type):
            df[f.name] = df[f.name].astype(DATE_DTYPE)
        elif pa.types.is_timestamp(f.type):
            col = df[f.name]
            if isinstance(col.dtype, pd.DatetimeTZDtype):
                df[f.name] = col.dt.tz_convert("UTC").astype(TIMESTAMP_DTYPE)
            else:
                df[f.name] = col.dt.tz_localize("UTC").astype(TIMESTAMP_DTYPE)
    return df
