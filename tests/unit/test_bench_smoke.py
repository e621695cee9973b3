"""The benchmark suite's smoke mode: every figure runs at tiny sizes and yields well-formed rows.

Budgets are not asserted here (timings at tiny sizes on a shared CI machine mean nothing); `make bench`
measures them. This only proves that `python -m bench` still works.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest

pytest.importorskip("anywidget")
pytest.importorskip("ai_sessions.widgets", reason="build the JS bundle first (cd js && npm run build)")

from bench.__main__ import FIGURES, run_figures
from bench.common import Row, Sizes
from bench.results import write_results


@pytest.fixture(scope="module")
def smoke() -> tuple[dict[str, list[Row]], float]:
    began = time.monotonic()
    results = run_figures(Sizes(smoke=True), log=False)
    return results, time.monotonic() - began


def test_every_figure_runs(smoke):
    results, _seconds = smoke
    assert set(results) == set(FIGURES)


@pytest.mark.parametrize("number", sorted(FIGURES))
def test_figure_rows_are_well_formed(smoke, number):
    rows = smoke[0][number]
    assert rows, f"figure {number} produced no row"
    for row in rows:
        assert row.figure.startswith(number), row.figure
        assert "crashed" not in row.note, row.note
        assert row.budget and row.note
        if row.passed is None and row.ours is None:  # skipped (e.g. no browser here): says why
            assert "unavailable" in row.note or "skipped" in row.note, row.note
            continue
        assert row.ours is not None and math.isfinite(row.ours) and row.ours >= 0, row
        if row.baseline is not None:
            assert math.isfinite(row.baseline) and row.baseline >= 0, row
        assert row.passed in (True, False, None)


def test_first_text_and_first_use_rows_are_budgets(smoke):
    results = smoke[0]
    first_text = [r for r in results["1"] + results["2"] if "first text sent to the browser" in r.figure.lower()]
    assert len(first_text) == 4, [r.figure for r in first_text]  # three protocols at full speed, paced replies
    assert all(r.budget == "≤ first token + 60 ms" and r.passed is not None for r in first_text)
    first_use = [r for r in results["4"] if r.figure.startswith("4 First use of a provider")]
    assert len(first_use) == 1 and first_use[0].budget == "≤ 50 ms" and first_use[0].passed is not None


def test_results_table_lists_every_row(smoke, tmp_path: Path):
    results, seconds = smoke
    out = tmp_path / "results.md"
    write_results(out, results, {"cpu": "test"}, seconds, smoke=True)
    text = out.read_text()
    assert "| Figure | Ours | Baseline | Ratio | Budget | Result |" in text
    for rows in results.values():
        for row in rows:
            assert row.figure in text


def test_readme_table_is_replaced_between_its_markers_only(smoke, tmp_path: Path):
    from bench.results import README_BEGIN, README_END, update_readme

    results, _seconds = smoke
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nBefore.\n\n{README_BEGIN}\nold table\n{README_END}\n\nAfter.\n")
    machine = {"cpu": "Test CPU", "cores": "2", "memory": "1.0 GiB", "os": "Linux", "python": "3.11.7"}
    assert update_readme(results, machine, readme)
    text = readme.read_text()
    assert "old table" not in text and text.startswith("# Title\n\nBefore.") and text.endswith("After.\n")
    assert "| Figure | Ours | Baseline | Budget | Result |" in text
    assert "on Test CPU, 2 cores, 1.0 GiB, Linux, Python 3.11.7." in text
    for rows in results.values():
        for row in rows:
            assert row.figure in text
    plain = tmp_path / "plain.md"
    plain.write_text("no markers")
    assert not update_readme(results, machine, plain) and plain.read_text() == "no markers"
