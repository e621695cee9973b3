"""Message parts: a message is a sequence of typed parts (text, image, file, tool call, tool result,
structured data). ``Message.content`` is the text view: the text parts joined.

Binary data (images, files) is held inline while a message is built and stored once per content hash in
the store's ``blobs`` table; a stored part refers to its blob by ``blob`` (``sha256:<hex>``) and loads its
bytes only when a provider needs them (:meth:`ai_sessions.store.Store.blob`).

Every part converts to and from a JSON-safe dict (``to_dict`` / :func:`part_from_dict`), the form used
by the store, exports and the chat widget (where ``data`` is never sent: only its size and hash).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

#: Part kinds, as stored (``Part.kind``).
KINDS = ("text", "image", "file", "tool_call", "tool_result", "structured")
#: Nesting limit of tool results holding parts (an export or a tool may not nest deeper).
MAX_DEPTH = 3


def blob_hash(data: bytes) -> str:
    """The content address of ``data``: ``sha256:<hex>``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class TextPart:
    text: str
    kind: ClassVar[str] = "text"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "text": self.text}


@dataclass(frozen=True)
class _BinaryPart:
    """Shared by images and files: bytes in ``data`` (while building) and/or a ``blob`` hash (stored)."""

    media_type: str
    data: bytes | None = field(default=None, repr=False)
    blob: str | None = None
    size: int | None = None

    def __post_init__(self) -> None:
        if self.data is not None:
            if self.blob is None:
                object.__setattr__(self, "blob", blob_hash(self.data))
            if self.size is None:
                object.__setattr__(self, "size", len(self.data))
        elif self.blob is None:
            raise ValueError(f"a {type(self).__name__} needs data or a blob hash")

    def with_data(self, data: bytes) -> Any:
        return replace(self, data=data)

    def without_data(self) -> Any:
        return replace(self, data=None)

    def base64(self) -> str:
        if self.data is None:
            raise ValueError(f"{type(self).__name__} {self.blob} has no data loaded")
        return base64.b64encode(self.data).decode("ascii")

    def _common(self) -> dict[str, Any]:
        return {"media_type": self.media_type, "blob": self.blob, "size": self.size}


@dataclass(frozen=True)
class ImagePart(_BinaryPart):
    #: The file name it was attached as (empty for a figure or a picture made in the kernel).
    name: str = ""
    kind: ClassVar[str] = "image"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **self._common(), **({"name": self.name} if self.name else {})}


@dataclass(frozen=True)
class FilePart(_BinaryPart):
    name: str = "file"
    kind: ClassVar[str] = "file"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, **self._common()}


@dataclass(frozen=True)
class ToolCallPart:
    """The model asks to call tool ``name`` with ``arguments`` (a JSON object); ``id`` pairs it with its
    result (provider ids are kept; ids are made up for providers that send none)."""

    id: str
    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    kind: ClassVar[str] = "tool_call"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "name": self.name, "arguments": dict(self.arguments)}


@dataclass(frozen=True)
class ToolResultPart:
    """What tool call ``call_id`` returned (text, images, ...), or its error when ``is_error``."""

    call_id: str
    parts: tuple[Part, ...] = ()
    is_error: bool = False
    name: str = ""
    kind: ClassVar[str] = "tool_result"

    @property
    def text(self) -> str:
        return text_of(self.parts)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "call_id": self.call_id, "name": self.name, "is_error": self.is_error,
                "parts": [p.to_dict() for p in self.parts]}


@dataclass(frozen=True)
class StructuredPart:
    """A validated structured result (``data`` is JSON), produced for ``schema`` (its name)."""

    data: Any
    schema: str = ""
    kind: ClassVar[str] = "structured"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "data": self.data, "schema": self.schema}


Part = TextPart | ImagePart | FilePart | ToolCallPart | ToolResultPart | StructuredPart


def text_of(parts: Iterable[Part]) -> str:
    """The text view of ``parts``: their text parts joined (nothing else counts as text)."""
    return "".join(p.text for p in parts if isinstance(p, TextPart))


def search_text(parts: Iterable[Part]) -> str:
    """What search finds a message by: each text part, tool call (name and arguments), tool result, file
    name and structured result, one paragraph each (so words of separate rounds never run together)."""
    pieces: list[str] = []
    for part in parts:
        if isinstance(part, TextPart):
            pieces.append(part.text)
        elif isinstance(part, ToolCallPart):
            pieces.append(f"{part.name} {json.dumps(dict(part.arguments), ensure_ascii=False, default=str)}")
        elif isinstance(part, ToolResultPart):
            pieces.append(search_text(part.parts))
        elif isinstance(part, FilePart):
            pieces.append(part.name)
        elif isinstance(part, StructuredPart):
            pieces.append(json.dumps(part.data, ensure_ascii=False, default=str))
    return "\n\n".join(piece for piece in pieces if piece)


def as_parts(value: str | Iterable[Part] | None) -> tuple[Part, ...]:
    """``value`` as a tuple of parts: a string is one text part (none if empty)."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (TextPart(value),) if value else ()
    return tuple(value)


def merge_text(parts: Iterable[Part]) -> tuple[Part, ...]:
    """Adjacent text parts joined into one (streamed text arrives in pieces)."""
    merged: list[Part] = []
    for part in parts:
        if isinstance(part, TextPart) and merged and isinstance(merged[-1], TextPart):
            merged[-1] = TextPart(merged[-1].text + part.text)
        elif not (isinstance(part, TextPart) and not part.text):
            merged.append(part)
    return tuple(merged)


def part_from_dict(data: Mapping[str, Any], depth: int = 0) -> Part:
    """A part from its dict form; raises ValueError (naming the field) for anything malformed."""
    if not isinstance(data, Mapping):
        raise ValueError(f"a part must be an object, not {type(data).__name__}")
    kind = data.get("kind")
    if kind == "text":
        return TextPart(_str(data, "text"))
    if kind in ("image", "file"):
        media_type, blob = _str(data, "media_type"), data.get("blob")
        raw = data.get("data")
        payload = _decode(raw) if raw is not None else None
        if blob is not None and not (isinstance(blob, str) and blob.startswith("sha256:") and len(blob) == 71):
            raise ValueError("'blob' must be 'sha256:' and 64 hex digits")
        if payload is not None and blob is not None and blob_hash(payload) != blob:
            raise ValueError("'data' does not match its 'blob' hash")
        if payload is None and blob is None:
            raise ValueError(f"an {kind} part needs 'data' or 'blob'")
        size = data.get("size")
        if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
            raise ValueError("'size' must be a non-negative integer")
        if kind == "image":
            name = data.get("name", "")
            return ImagePart(media_type, payload, blob, size, name=name if isinstance(name, str) else "")
        return FilePart(media_type, payload, blob, size, name=_str(data, "name"))
    if kind == "tool_call":
        arguments = data.get("arguments", {})
        if not isinstance(arguments, Mapping):
            raise ValueError("'arguments' must be an object")
        return ToolCallPart(_str(data, "id"), _str(data, "name"), dict(arguments))
    if kind == "tool_result":
        if depth >= MAX_DEPTH:
            raise ValueError(f"tool results nest deeper than {MAX_DEPTH} levels")
        inner = data.get("parts", [])
        if not isinstance(inner, list):
            raise ValueError("'parts' must be a list")
        is_error = data.get("is_error", False)
        if not isinstance(is_error, bool):
            raise ValueError("'is_error' must be true or false")
        name = data.get("name", "")
        return ToolResultPart(_str(data, "call_id"), tuple(part_from_dict(p, depth + 1) for p in inner), is_error,
                              name if isinstance(name, str) else "")
    if kind == "structured":
        schema = data.get("schema", "")
        return StructuredPart(data.get("data"), schema if isinstance(schema, str) else "")
    raise ValueError(f"unknown part kind {kind!r} (known: {', '.join(KINDS)})")


def parts_from_dicts(items: Any) -> tuple[Part, ...]:
    if not isinstance(items, list):
        raise ValueError("'parts' must be a list")
    return tuple(part_from_dict(item) for item in items)


def binary_parts(parts: Iterable[Part]) -> list[ImagePart | FilePart]:
    """Every image and file part, also inside tool results."""
    found: list[ImagePart | FilePart] = []
    for part in parts:
        if isinstance(part, ImagePart | FilePart):
            found.append(part)
        elif isinstance(part, ToolResultPart):
            found.extend(binary_parts(part.parts))
    return found


def map_binary(parts: Iterable[Part], fn: Any) -> tuple[Part, ...]:
    """``parts`` with every image/file part replaced by ``fn(part)`` (also inside tool results)."""
    out: list[Part] = []
    for part in parts:
        if isinstance(part, ImagePart | FilePart):
            out.append(fn(part))
        elif isinstance(part, ToolResultPart):
            out.append(replace(part, parts=map_binary(part.parts, fn)))
        else:
            out.append(part)
    return tuple(out)


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise ValueError(f"'{key}' must be text, not {type(value).__name__}")
    return value


def _decode(value: Any) -> bytes:
    if not isinstance(value, str):
        raise ValueError("'data' must be base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise ValueError("'data' is not valid base64") from None
