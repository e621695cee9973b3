"""Context from the kernel (C1): descriptions of DataFrames, Series, arrays, figures, images, files and
anything else, within the size budget with truncation marked; attached with ``context=[...]`` and stored
with the message; refused before anything is sent when the model cannot take an image. And the built-in
notebook tools that read and run in the namespace."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from ai_sessions import AiSessionsError
from ai_sessions import notebook as nb
from ai_sessions.context import describe
from ai_sessions.parts import FilePart, ImagePart, TextPart
from tests.scripted import SCRIPTS, Script


def text(parts) -> str:
    return "".join(p.text for p in parts if isinstance(p, TextPart))


def test_a_dataframe_is_described_by_shape_types_nulls_statistics_and_its_ends():
    df = pd.DataFrame({"price": [1.0, 2.0, None, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0],
                       "city": list("abcdefghijkl")})
    out = text(describe(df, "orders"))
    assert out.startswith("`orders`: pandas DataFrame, 12 rows, 2 columns")
    assert "price: float64, 1 null" in out and ("city: object, 0 null" in out or "city: str, 0 null" in out)
    assert "describe() of the numeric columns" in out and "mean" in out
    assert "first 5 rows" in out and "last 5 rows" in out and " l" in out  # the last row is shown


def test_a_description_past_the_budget_is_cut_visibly():
    df = pd.DataFrame({"text": ["x" * 500] * 20})
    out = text(describe(df, "big", budget=1000))
    assert len(out) < 1100 and out.endswith("more characters]") and "[… cut:" in out


def test_series_arrays_and_other_objects():
    assert "pandas Series 'score', 3 values, dtype int64" in text(describe(pd.Series([1, 2, 3], name="score")))
    arr = text(describe(np.array([[1.0, np.nan], [3.0, 4.0]]), "a"))
    assert "numpy array, dtype float64, shape (2, 2)" in arr and "1 values are not finite" in arr
    assert text(describe({"k": 1}, "cfg")) == "`cfg` (dict):\n{'k': 1}"


def test_figures_and_images_become_images():
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3])
    parts = describe(fig, "fig")
    image = next(p for p in parts if isinstance(p, ImagePart))
    assert image.media_type == "image/png" and image.data.startswith(b"\x89PNG")
    plt.close(fig)


def test_files_text_as_text_images_as_images_others_as_files(tmp_path):
    (tmp_path / "notes.md").write_text("# Notes\nall good", encoding="utf-8")
    assert "all good" in text(describe(tmp_path / "notes.md"))
    (tmp_path / "blob.bin").write_bytes(b"\xff\xfe\x00binary")
    [part] = describe(tmp_path / "blob.bin")
    assert isinstance(part, FilePart) and part.name == "blob.bin"


def test_context_is_stored_with_the_message_and_sent(hub):
    df = pd.DataFrame({"x": [1, 2, 3]})
    SCRIPTS["m"] = Script(chunks=["ok"])
    s = hub.session("s", model="scripted:m")
    s.send("Why is x skewed?", context=[df])
    user = s.messages[0]
    assert user.content.startswith("Why is x skewed?") and "pandas DataFrame, 3 rows, 1 columns" in user.content
    assert hub.store.load_messages(s.id)[0].parts == user.parts
    assert "pandas DataFrame" in SCRIPTS["m"].requests[0].turns[0].content


def test_an_image_for_a_model_that_cannot_see_is_refused_before_anything_is_sent(hub):
    fig, _ = plt.subplots()
    s = hub.session("s", model="local:smollm2")
    with pytest.raises(AiSessionsError, match="local:smollm2 cannot see images"):
        s.send("what does it show?", context=[fig])
    plt.close(fig)
    assert s.messages == () and hub.store.load_messages(s.id) == []


# -- the notebook tools -------------------------------------------------------------------------------
@pytest.fixture
def namespace(monkeypatch):
    ns: dict[str, object] = {"df": pd.DataFrame({"a": [1, 2]}), "n": 3, "_hidden": 1, "np": np}
    monkeypatch.setattr(nb, "_namespace", lambda: ns)
    return ns


def test_list_variables_and_inspect(namespace):
    listing = nb.list_variables()
    assert "df: DataFrame [2 x 1]" in listing and "n: int" in listing
    assert "_hidden" not in listing and "np" not in listing  # modules and private names are not variables
    assert "pandas DataFrame, 2 rows" in text(nb.inspect("df"))
    with pytest.raises(KeyError, match="no variable named 'nope'"):
        nb.inspect("nope")


def test_run_python_returns_stdout_the_last_value_errors_and_figures(namespace):
    out = text(nb.run_python("print('hello')\ny = n * 2\ny + 1"))
    assert "stdout:\nhello" in out and "7" in out and namespace["y"] == 6
    failed = text(nb.run_python("1 / 0"))
    assert "ZeroDivisionError" in failed and "Traceback" in failed
    parts = nb.run_python("import matplotlib.pyplot as plt\nplt.plot([1, 2])\nNone")
    assert any(isinstance(p, ImagePart) for p in parts)
    assert plt.get_fignums() == []  # the figure was taken and closed: it does not show under the next cell
