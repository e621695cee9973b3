"""Attachments from the chat (issue 13): bytes become image, text-file or PDF parts, within limits, refused
before sending when the model cannot take them, stored once by hash with the message, and exported."""

from __future__ import annotations

import json
import sqlite3

import pytest

from ai_sessions.attachments import Limits, attachment_part, check_attachments, parts_from_upload
from ai_sessions.errors import AiSessionsError
from ai_sessions.parts import FilePart, ImagePart, TextPart
from ai_sessions.providers.base import Capabilities, ProviderConfig
from ai_sessions.settings import Settings
from tests.scripted import SCRIPTS, Script

PNG = bytes.fromhex("89504e470d0a1a0a") + b"\0" * 24
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


def test_each_kind_of_file_becomes_its_part():
    image = attachment_part("dot.png", "image/png", PNG)
    assert isinstance(image, ImagePart) and image.name == "dot.png" and image.size == len(PNG)
    code = attachment_part("script.py", "", b"print('hi')\n")  # the browser often gives no type
    assert isinstance(code, FilePart) and code.media_type == "text/x-python"
    notebook = attachment_part("a.ipynb", "application/x-ipynb+json", b'{"cells": []}')
    assert notebook.media_type == "text/plain"  # UTF-8 of no binary type: sent as text
    assert attachment_part("paper.pdf", "application/pdf", PDF).media_type == "application/pdf"
    assert attachment_part("blob.bin", "", b"\xff\xfe\x00\x01").media_type == "application/octet-stream"


def test_uploads_are_checked_against_the_limits():
    limits = Limits(max_total_bytes=100, max_image_bytes=40, max_count=2)
    parts = parts_from_upload([{"name": "a.txt", "media_type": "text/plain", "size": 3}], [memoryview(b"abc")], limits)
    assert parts[0].data == b"abc"
    with pytest.raises(AiSessionsError, match="at most 2"):
        parts_from_upload([{"name": "a"}] * 3, [b"x"] * 3, limits)
    with pytest.raises(AiSessionsError, match="over the 100 bytes"):
        parts_from_upload([{"name": "a.txt"}], [b"x" * 101], limits)
    with pytest.raises(AiSessionsError, match="limit for images"):
        parts_from_upload([{"name": "big.png", "media_type": "image/png"}], [PNG + b"\0" * 20], limits)
    with pytest.raises(AiSessionsError, match="incomplete"):
        parts_from_upload([{"name": "a.txt"}], [], limits)
    with pytest.raises(AiSessionsError, match="file name"):
        parts_from_upload([{"name": ""}], [b"x"], limits)


def test_what_a_model_cannot_take_is_refused_by_name():
    text_only, everything = Capabilities(), Capabilities(images=True, documents=True)
    image, pdf = ImagePart("image/png", PNG), FilePart("application/pdf", PDF, name="paper.pdf")
    check_attachments((TextPart("x"), FilePart("text/csv", b"a,b", name="t.csv")), text_only, "m")
    check_attachments((image, pdf), everything, "m")
    with pytest.raises(AiSessionsError, match="m cannot see images"):
        check_attachments((image,), text_only, "m")
    with pytest.raises(AiSessionsError, match=r"cannot read PDF files, and paper\.pdf"):
        check_attachments((pdf,), Capabilities(images=True), "m")
    with pytest.raises(AiSessionsError, match=r"no model can read blob\.bin"):
        check_attachments((FilePart("application/zip", b"PK", name="blob.bin"),), everything, "m")


@pytest.fixture
def shub(make_hub):
    SCRIPTS.clear()
    SCRIPTS["m"] = Script(chunks=["seen"])
    return make_hub(settings=Settings(providers={"scripted": ProviderConfig("scripted", "scripted")}))


def test_attachments_are_sent_stored_once_by_hash_and_exported(shub):
    s = shub.session("a", model="scripted:m")
    parts = (TextPart("look"), *parts_from_upload(
        [{"name": "dot.png", "media_type": "image/png"}, {"name": "t.csv", "media_type": "text/csv"}],
        [PNG, b"a,b\n1,2\n"]))
    s.send(parts)
    s.send(parts)  # the same bytes again: one blob each
    request = SCRIPTS["m"].requests[-1]
    assert [p.kind for p in request.turns[-1].parts] == ["text", "image", "file"]
    assert request.turns[-1].parts[1].data == PNG  # the bytes are loaded for the provider
    stored = shub.store.load_messages(s.id)[0]
    assert [(p.kind, getattr(p, "name", None)) for p in stored.parts] == [
        ("text", None), ("image", "dot.png"), ("file", "t.csv")]
    assert shub.store.blob(stored.parts[1].blob) == PNG
    with sqlite3.connect(shub.store.path) as db:
        assert db.execute("SELECT count(*) FROM blobs").fetchone()[0] == 2
    data = json.loads(s.export("json"))
    exported = data["messages"][0]["parts"]
    assert exported[1]["name"] == "dot.png" and exported[1]["data"]
    copy = shub.import_session(s.export("json"), name="copy")
    assert copy.messages[0].parts[1].name == "dot.png"


def test_a_model_that_cannot_see_images_says_so_before_anything_is_stored(shub):
    SCRIPTS["m"] = Script(chunks=["x"])
    s = shub.session("a", model="local:smollm2")
    with pytest.raises(AiSessionsError, match="cannot see images"):
        s.send((TextPart("look"), ImagePart("image/png", PNG, name="dot.png")))
    assert s.messages == ()
