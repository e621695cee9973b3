"""Descriptions of kernel objects for a model: what ``context=[df, fig]``, ``%%ai_session --with df`` and
``@df`` in the chat attach to a message, and how tool results are turned into parts.

Each description is built when the message is sent, within a size budget (``[context] max_chars`` in
settings, 20,000 characters by default), with truncation marked. Nothing from the namespace is ever sent
unless it was attached. pandas, numpy, matplotlib, plotly and PIL are looked at only if the object is one
of theirs (none is imported otherwise).
"""

from __future__ import annotations

import io
import json
import mimetypes
import os
from pathlib import Path
from typing import Any

from .errors import AiSessionsError
from .parts import FilePart, ImagePart, Part, TextPart

DEFAULT_CHARS = 20_000
#: Rows shown from each end of a table.
EDGE_ROWS = 5
MAX_IMAGE_BYTES = 5 * 1024 * 1024
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")


def describe(obj: Any, name: str | None = None, *, budget: int = DEFAULT_CHARS) -> tuple[Part, ...]:
    """Parts describing ``obj`` (called ``name`` in the namespace, if known) for a model."""
    label = f"`{name}`" if name else "the attached object"
    kind = _kind(obj)
    if kind == "pandas.DataFrame":
        return (TextPart(_cut(_frame(obj, label), budget)),)
    if kind == "pandas.Series":
        return (TextPart(_cut(_series(obj, label), budget)),)
    if kind in ("polars.DataFrame", "polars.Series"):
        return (TextPart(_cut(_polars(obj, label), budget)),)
    if kind == "numpy.ndarray":
        return (TextPart(_cut(_array(obj, label), budget)),)
    image = _image_bytes(obj, kind)
    if image is not None:
        return (TextPart(f"{label} ({_type_name(obj)}), as an image:"), ImagePart("image/png", image))
    if isinstance(obj, os.PathLike) or (isinstance(obj, str) and len(obj) < 4096 and "\n" not in obj
                                        and os.path.isfile(obj)):
        return describe_file(Path(obj), budget=budget)
    if isinstance(obj, str):
        return (TextPart(_cut(f"{label}:\n{obj}", budget)),)
    return (TextPart(_cut(f"{label} ({_type_name(obj)}):\n{_repr(obj)}", budget)),)


def with_context(parts: tuple[Part, ...], context: Any, budget: int) -> tuple[Part, ...]:
    """``parts`` followed by a description of each object of ``context`` (a list, or one object), each named
    as it is in the user namespace when it has a name there."""
    if context is None:
        return parts
    if isinstance(context, str | bytes) or not isinstance(context, list | tuple):
        context = [context]
    attached: list[Part] = []
    for item in context:
        attached.extend(describe(item, name_in_namespace(item), budget=budget))
    return (*parts, *attached)


def describe_file(path: Path, *, budget: int = DEFAULT_CHARS) -> tuple[Part, ...]:
    """A file as parts: text files as text (budgeted), images as images, other files as file parts."""
    path = path.expanduser()
    if not path.is_file():
        raise AiSessionsError(f"{path} is not a file", hint="attach an existing file path")
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    size = path.stat().st_size
    if media_type in IMAGE_TYPES:
        if size > MAX_IMAGE_BYTES:
            raise AiSessionsError(f"the image {path} is {size / 2**20:.1f} MiB, over the 5 MiB limit",
                                  hint="attach a smaller image (resize it, or save it as JPEG)")
        return (TextPart(f"the file {path.name}:"), ImagePart(media_type, path.read_bytes()))
    data = path.read_bytes() if size <= 32 * 1024 * 1024 else None
    if data is None:
        raise AiSessionsError(f"{path} is {size / 2**20:.0f} MiB: too large to attach",
                              hint="attach a part of it (e.g. the head of a CSV) instead")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return (FilePart(media_type, data, name=path.name),)
    return (TextPart(_cut(f"the file {path.name}:\n{text}", budget)),)


def result_parts(value: Any, budget: int) -> tuple[Part, ...]:
    """A tool's return value as parts: text as is, tables summarised, figures as images, data as JSON."""
    if value is None:
        return (TextPart("(no output)"),)
    if isinstance(value, str):
        return (TextPart(_cut(value, budget)),)
    if isinstance(value, bool | int | float):
        return (TextPart(str(value)),)
    if isinstance(value, tuple) and value and all(hasattr(p, "kind") for p in value):
        return value  # already parts
    if isinstance(value, dict | list):
        try:
            return (TextPart(_cut(json.dumps(value, ensure_ascii=False, default=str), budget)),)
        except (TypeError, ValueError):
            pass
    return describe(value, budget=budget)


def name_in_namespace(obj: Any) -> str | None:
    """The name ``obj`` has in the IPython user namespace, if any (for a readable description)."""
    if isinstance(obj, str | int | float | bool) or obj is None:
        return None
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    namespace = getattr(shell, "user_ns", None) or {}
    for name, value in namespace.items():
        if value is obj and not name.startswith("_"):
            return name
    return None


# -- kinds ------------------------------------------------------------------------------------------------
def _kind(obj: Any) -> str:
    module = type(obj).__module__.split(".")[0]
    name = type(obj).__name__
    if module == "pandas" and name in ("DataFrame", "Series"):
        return f"pandas.{name}"
    if module == "polars" and name in ("DataFrame", "Series"):
        return f"polars.{name}"
    if module == "numpy" and name == "ndarray":
        return "numpy.ndarray"
    for cls in type(obj).__mro__:
        full = f"{cls.__module__}.{cls.__qualname__}"
        if full == "matplotlib.figure.Figure":
            return "matplotlib.Figure"
        if full.startswith("matplotlib.axes.") and cls.__qualname__ == "Axes":
            return "matplotlib.Axes"
        if full.startswith("plotly.graph_objs._figure.Figure"):
            return "plotly.Figure"
        if full == "PIL.Image.Image":
            return "PIL.Image"
    return ""


def _type_name(obj: Any) -> str:
    cls = type(obj)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _cut(text: str, budget: int) -> str:
    if len(text) <= budget:
        return text
    return text[:budget] + f"\n[… cut: {len(text) - budget:,} more characters]"


def _repr(obj: Any) -> str:
    try:
        return repr(obj)
    except Exception as exc:  # a broken __repr__ must not stop the message
        return f"<repr failed: {type(exc).__name__}: {exc}>"


# -- tables and arrays ------------------------------------------------------------------------------
def _frame(df: Any, label: str) -> str:
    rows, cols = df.shape
    lines = [f"{label}: pandas DataFrame, {rows:,} rows, {cols:,} columns"]
    info = [f"  {c}: {t}, {n:,} null" for c, t, n in zip(df.columns, df.dtypes.astype(str), df.isna().sum(),
                                                           strict=False)]
    lines += ["columns (dtype, nulls):", *info]
    numeric = df.select_dtypes("number")
    if numeric.shape[1]:
        lines += ["describe() of the numeric columns:", numeric.describe().to_string()]
    if rows:
        lines += [f"first {min(rows, EDGE_ROWS)} rows:", df.head(EDGE_ROWS).to_string()]
    if rows > EDGE_ROWS:
        tail = min(rows - EDGE_ROWS, EDGE_ROWS)
        lines += [f"last {tail} rows:", df.tail(tail).to_string()]
    return "\n".join(lines)


def _series(series: Any, label: str) -> str:
    lines = [f"{label}: pandas Series {series.name!r}, {len(series):,} values, dtype {series.dtype}, "
             f"{int(series.isna().sum()):,} null"]
    if series.dtype.kind in "iufc":
        lines += ["describe():", series.describe().to_string()]
    else:
        lines += ["most common values:", series.value_counts().head(10).to_string()]
    lines += [f"first {EDGE_ROWS} values:", series.head(EDGE_ROWS).to_string()]
    return "\n".join(lines)


def _polars(obj: Any, label: str) -> str:
    kind = type(obj).__name__
    lines = [f"{label}: polars {kind}, shape {obj.shape}"]
    if kind == "DataFrame":
        lines += ["schema:", *(f"  {c}: {t}" for c, t in obj.schema.items())]
        lines += ["describe():", str(obj.describe())]
    lines += [f"first {EDGE_ROWS} rows:", str(obj.head(EDGE_ROWS))]
    return "\n".join(lines)


def _array(arr: Any, label: str) -> str:
    import numpy as np

    lines = [f"{label}: numpy array, dtype {arr.dtype}, shape {arr.shape}"]
    if arr.size and arr.dtype.kind in "iufb":
        flat = arr.astype(float).ravel()
        finite = flat[np.isfinite(flat)]
        if finite.size:
            lines.append(f"min {finite.min():.6g}, max {finite.max():.6g}, mean {finite.mean():.6g}, "
                         f"std {finite.std():.6g}")
        lines.append(f"{flat.size - finite.size:,} values are not finite (NaN or inf)")
    with np.printoptions(threshold=200, edgeitems=3):
        lines += ["sample:", str(arr)]
    return "\n".join(lines)


# -- images -----------------------------------------------------------------------------------------------
def _image_bytes(obj: Any, kind: str) -> bytes | None:
    if kind == "matplotlib.Axes":
        obj, kind = obj.figure, "matplotlib.Figure"
    if kind == "matplotlib.Figure":
        buffer = io.BytesIO()
        obj.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
        return buffer.getvalue()
    if kind == "PIL.Image":
        buffer = io.BytesIO()
        obj.save(buffer, format="PNG")
        return buffer.getvalue()
    if kind == "plotly.Figure":
        try:
            return bytes(obj.to_image(format="png"))
        except Exception as exc:  # plotly needs kaleido to draw a PNG
            raise AiSessionsError(f"cannot draw the plotly figure as an image ({type(exc).__name__})",
                                  hint="pip install kaleido, or attach fig.to_dict() as data instead") from None
    return None
