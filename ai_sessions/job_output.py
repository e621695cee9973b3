"""A map's results as the user gets them: with ``schema=``, a DataFrame with one column per field plus
``status`` and ``error`` (aligned with the input's index), or for a list input a list of validated objects;
without a schema, texts (a Series for pandas input). Built from a finished run in memory, or from the store
(a batch job's results, or any job after a kernel restart)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .batch import BatchResult

STATUS, ERROR = "status", "error"


def frame(result: BatchResult) -> Any:
    """The DataFrame of a structured map: fields, then ``status`` and ``error`` (named ``_status`` /
    ``_error`` if the schema has fields of those names); failed rows hold None in every field."""
    import pandas as pd

    schema = result.options.schema
    assert schema is not None
    fields = list(schema.fields)
    status_col = STATUS if STATUS not in fields else f"_{STATUS}"
    error_col = ERROR if ERROR not in fields else f"_{ERROR}"
    rows = []
    for item in result.items:
        row = schema.row(item.value) if item.ok else dict.fromkeys(fields)
        row[status_col], row[error_col] = item.status, item.error
        rows.append(row)
    table = pd.DataFrame(rows, index=result.index, columns=[*fields, status_col, error_col])
    table.attrs["batch"] = result
    return table
