"""Generate ``js/src/protocol.ts`` from :mod:`ai_sessions.widgets.contract` (through its JSON Schema).

Run ``python -m ai_sessions.widgets.contract_ts`` after changing the contract (``--check`` only
compares); a unit test fails while the committed file differs from what this writes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, create_model

from . import contract

TARGET = Path(__file__).resolve().parents[2] / "js" / "src" / "protocol.ts"
HEADER = """\
/**
 * The data the kernel and the browser exchange: synced trait values and custom messages.
 *
 * GENERATED from ai_sessions/widgets/contract.py by `python -m ai_sessions.widgets.contract_ts`:
 * do not edit by hand. Offsets and lengths count UTF-16 code units (JavaScript string indices).
 */
"""


def schema() -> dict[str, Any]:
    """The JSON Schema of every exported shape, with each named shape under ``$defs``."""
    fields: dict[str, Any] = {f"export_{i}": (shape, ...) for i, shape in enumerate(contract.EXPORTS)}
    holder: type[BaseModel] = create_model("Contract", **fields)
    return holder.model_json_schema(by_alias=True, ref_template="{model}")


def _doc(text: str | None, indent: str = "") -> list[str]:
    if not text:
        return []
    lines = [line.rstrip() for line in text.replace("``", "`").strip().splitlines()]
    if len(lines) == 1:
        return [f"{indent}/** {lines[0]} */"]
    return [f"{indent}/**", *(f"{indent} * {line}".rstrip() for line in lines), f"{indent} */"]


def _type(node: dict[str, Any]) -> str:
    if "$ref" in node:
        return str(node["$ref"])
    if "const" in node:
        return json.dumps(node["const"])
    if "enum" in node:
        return " | ".join(json.dumps(v) for v in node["enum"])
    for key in ("anyOf", "oneOf"):
        if key in node:
            return " | ".join(dict.fromkeys(_type(n) for n in node[key]))
    kind = node.get("type")
    if kind == "string":
        return "string"
    if kind in ("integer", "number"):
        return "number"
    if kind == "boolean":
        return "boolean"
    if kind == "null":
        return "null"
    if kind == "array":
        item = _type(node.get("items", {}))
        return f"({item})[]" if " " in item else f"{item}[]"
    if kind == "object":
        if node.get("properties"):
            return "{ " + " ".join(f"{line.strip()}" for line in _members(node, "")) + " }"
        return "Record<string, never>" if node.get("additionalProperties") is False else "Record<string, unknown>"
    return "unknown"


def _members(node: dict[str, Any], indent: str) -> list[str]:
    required = set(node.get("required", ()))
    lines: list[str] = []
    for name, prop in node.get("properties", {}).items():
        lines += _doc(prop.get("description"), indent)
        optional = "" if name in required else "?"
        lines.append(f"{indent}{name}{optional}: {_type(prop)};")
    if node.get("additionalProperties") is True:
        lines.append(f"{indent}[key: string]: unknown;")
    return lines


def typescript() -> str:
    """The text of ``js/src/protocol.ts``."""
    defs = schema()["$defs"]
    out = [HEADER]
    for name, node in defs.items():
        out += _doc(node.get("description"))
        if node.get("type") == "object" and node.get("properties"):
            out += [f"export interface {name} {{", *_members(node, "  "), "}", ""]
        elif node.get("type") == "object":
            out += [f"export type {name} = {_type(node)};", ""]
        else:
            out += [f"export type {name} = {_type(node)};", ""]
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report whether protocol.ts is up to date")
    args = parser.parse_args(argv)
    text = typescript()
    current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
    if args.check:
        if current != text:
            print(f"{TARGET} is out of date: run python -m ai_sessions.widgets.contract_ts", file=sys.stderr)
            return 1
        return 0
    if current != text:
        TARGET.write_text(text, encoding="utf-8")
        print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
