"""Files attached in the chat (the Attach button, paste, drag and drop): their bytes become message
parts, checked against size limits and against what the answering model can take, before anything is
sent or stored.

Images become image parts; text files become file parts of a text type (every provider format sends
them as text, see ``providers/history.py``); PDFs become file parts that providers taking documents
read. Other files cannot be read by any model and are refused with a message saying so. Parts are stored
once per content hash with the message (``blobs``) and exported with it.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import AiSessionsError
from .parts import FilePart, ImagePart, Part, binary_parts
from .providers.base import Capabilities

IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
#: Non-``text/*`` types whose files are text (sent as text by every provider format).
TEXT_TYPES = ("application/json", "application/xml", "application/x-yaml", "application/csv")
PDF = "application/pdf"
#: An image a provider takes (Anthropic's limit is 5 MB per image).
MAX_IMAGE_BYTES = 5 * 1024 * 1024
#: All attachments of one message: the browser sends them in one websocket message, which Jupyter's
#: server refuses above 10 MiB (tornado's default ``websocket_max_message_size``).
MAX_TOTAL_BYTES = 8 * 1024 * 1024
MAX_COUNT = 10
MAX_NAME = 255


@dataclass(frozen=True)
class Limits:
    """What the chat accepts per message (the browser checks the same numbers before sending)."""

    max_total_bytes: int = MAX_TOTAL_BYTES
    max_image_bytes: int = MAX_IMAGE_BYTES
    max_count: int = MAX_COUNT

    def to_dict(self) -> dict[str, int]:
        return {"max_total_bytes": self.max_total_bytes, "max_image_bytes": self.max_image_bytes,
                "max_count": self.max_count}


def is_text_type(media_type: str) -> bool:
    return media_type.startswith("text/") or media_type in TEXT_TYPES


def attachment_part(name: str, media_type: str, data: bytes) -> ImagePart | FilePart:
    """The part for a file attached as ``name``: an image, a text file (any UTF-8 file of no known binary
    type counts as text) or another file."""
    media_type = (media_type or "").split(";")[0].strip().lower() or mimetypes.guess_type(name)[0] or ""
    if media_type in IMAGE_TYPES:
        return ImagePart(media_type, data, name=name)
    if not is_text_type(media_type) and _maybe_text(media_type):
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:  # code, notebooks, logs ...: text whatever the browser called it
            media_type = "text/plain"
    return FilePart(media_type or "application/octet-stream", data, name=name)


def _maybe_text(media_type: str) -> bool:
    """A type that may well be text (none, a generic one, or a structured-text one like ``+json``)."""
    return media_type in ("", "application/octet-stream") or any(
        word in media_type for word in ("json", "xml", "yaml", "javascript", "x-sh", "x-python", "sql", "toml"))


def parts_from_upload(items: Any, buffers: Sequence[Any], limits: Limits = Limits()) -> tuple[Part, ...]:
    """Parts for the chat's ``attachments`` (``[{name, media_type, size}]``) and their bytes (the message's
    buffers, in order); raises a one-line error for anything over the limits or malformed."""
    if not items:
        return ()
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items) or len(items) != len(buffers):
        raise AiSessionsError("the attachments arrived incomplete", hint="attach the files again")
    if len(items) > limits.max_count:
        raise AiSessionsError(f"{len(items)} files are attached; at most {limits.max_count} go with one message",
                              hint="send them over several messages")
    datas = [bytes(b) for b in buffers]
    total = sum(len(d) for d in datas)
    if total > limits.max_total_bytes:
        raise AiSessionsError(f"the attachments add up to {size_text(total)}, over the "
                              f"{size_text(limits.max_total_bytes)} a message can carry",
                              hint="attach fewer or smaller files (or pass paths with context=[...])")
    parts = []
    for item, data in zip(items, datas, strict=True):
        name = item.get("name")
        if not isinstance(name, str) or not name or len(name) > MAX_NAME:
            raise AiSessionsError("an attachment has no usable file name", hint="rename the file and attach it again")
        part = attachment_part(name, str(item.get("media_type") or ""), data)
        if isinstance(part, ImagePart) and len(data) > limits.max_image_bytes:
            raise AiSessionsError(f"the image {name} is {size_text(len(data))}, over the "
                                  f"{size_text(limits.max_image_bytes)} limit for images",
                                  hint="attach a smaller image (resize it, or save it as JPEG)")
        parts.append(part)
    return tuple(parts)


def check_attachments(parts: Iterable[Part], capabilities: Capabilities, model: str) -> None:
    """Refuse, before anything is sent, an image or file that ``model`` cannot take."""
    found = binary_parts(parts)
    images = [p for p in found if isinstance(p, ImagePart)]
    if images and not capabilities.images:
        raise AiSessionsError(f"{model} cannot see images, and this message has {len(images)}",
                              hint="switch to a model that takes images (the model selector shows them), or "
                                   "attach the data instead of a picture")
    for part in found:
        if not isinstance(part, FilePart) or is_text_type(part.media_type):
            continue
        if part.media_type == PDF:
            if not capabilities.documents:
                raise AiSessionsError(f"{model} cannot read PDF files, and {part.name} is one",
                                      hint="switch to a model that reads documents (e.g. Claude or Gemini), or "
                                           "attach the text instead")
        else:
            raise AiSessionsError(f"no model can read {part.name} ({part.media_type}): only images, text files "
                                  "and PDFs can be attached", hint="attach it as text, or describe what it holds")


def size_text(size: int) -> str:
    """``512 bytes``, ``12 KB``, ``3.4 MB`` (1024-based, as the browser's chips show)."""
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / 2**20:.1f} MB"
