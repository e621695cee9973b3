"""Writing bench/results.md: one table row per figure, machine info, then the hand-written notes
(bench/notes.md: what was profiled and changed, and why a budget is missed); and, after a full run, the
short table in the README's performance section (between its ``bench-table`` markers)."""

from __future__ import annotations

import datetime
from pathlib import Path

from .common import ROOT, Row

NOTES = ROOT / "bench" / "notes.md"
README = ROOT / "README.md"
README_BEGIN = "<!-- bench-table: written by `make bench`, do not edit by hand -->"
README_END = "<!-- /bench-table -->"


def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    if unit == "messages" or (float(value).is_integer() and abs(value) >= 10):
        text = f"{value:,.0f}"
    elif abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".strip()


def verdict(row: Row) -> str:
    return {True: "pass", False: "**FAIL**", None: "report"}[row.passed]


def baseline(row: Row) -> str:
    """The baseline cell: its value and what it is, or only what it is when it has no value."""
    if not row.baseline_label:
        return fmt(row.baseline, row.unit)
    if row.baseline is None:
        return row.baseline_label
    return f"{fmt(row.baseline, row.unit)} ({row.baseline_label})"


def table(results: dict[str, list[Row]]) -> list[str]:
    lines = ["| Figure | Ours | Baseline | Ratio | Budget | Result | How measured |",
             "| --- | ---: | ---: | ---: | --- | --- | --- |"]
    for rows in results.values():
        for row in rows:
            base = baseline(row)
            ratio = "—" if row.ratio is None else f"{row.ratio:.3f}"
            note = row.note.replace("|", "\\|")
            lines.append(f"| {row.figure} | {fmt(row.ours, row.unit)} | {base} | {ratio} | {row.budget} | "
                         f"{verdict(row)} | {note} |")
    return lines


def write_results(path: Path, results: dict[str, list[Row]], machine: dict[str, str], seconds: float,
                  smoke: bool = False) -> None:
    rows = [r for rs in results.values() for r in rs]
    passed = sum(r.passed is True for r in rows)
    failed = sum(r.passed is False for r in rows)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmark results" + (" (smoke sizes: not meaningful)" if smoke else ""),
        "",
        f"Written by `make bench` (`python -m bench`) on {stamp} in {seconds:.0f} s. Every figure is measured "
        "side by side with its baseline in the same run, repeated, median quoted.",
        f"{passed} budgets met, {failed} missed, {len(rows) - passed - failed} figures reported without a budget.",
        "",
        *table(results),
        "",
        "## Machine",
        "",
        *[f"- {key}: {value}" for key, value in machine.items()],
        "",
    ]
    if NOTES.is_file():
        lines += [NOTES.read_text().rstrip(), ""]
    path.write_text("\n".join(lines))


def readme_table(results: dict[str, list[Row]], machine: dict[str, str], stamp: str) -> list[str]:
    """The short form for the README: figure, ours, baseline, budget, result; then date and machine."""
    lines = ["| Figure | Ours | Baseline | Budget | Result |", "| --- | ---: | ---: | --- | --- |"]
    for rows in results.values():
        for row in rows:
            lines.append(f"| {row.figure} | {fmt(row.ours, row.unit)} | {baseline(row)} | {row.budget} | "
                         f"{verdict(row)} |")
    where = ", ".join(filter(None, [machine.get("cpu"), f"{machine.get('cores')} cores", machine.get("memory"),
                                    machine.get("os"), f"Python {machine.get('python')}"]))
    return [*lines, "", f"Measured {stamp} on {where}."]


def update_readme(results: dict[str, list[Row]], machine: dict[str, str], readme: Path = README) -> bool:
    """Replace the table between the README's markers; False (README untouched) if it has none."""
    text = readme.read_text()
    if README_BEGIN not in text or README_END not in text:
        return False
    head, rest = text.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
    body = "\n".join(readme_table(results, machine, stamp))
    readme.write_text(f"{head}{README_BEGIN}\n{body}\n{README_END}{tail}")
    return True
