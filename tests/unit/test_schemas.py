"""What a ``schema=`` argument becomes: names, the JSON Schema sent (strict where it can be), validation with
messages a model can act on, and the registry behind ``Message.parsed``."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from typing import Literal, TypedDict

import pytest
from pydantic import BaseModel, Field

from ai_sessions import schemas
from ai_sessions.errors import AiSessionsError
from ai_sessions.model import Message, Role
from ai_sessions.parts import StructuredPart, TextPart
from ai_sessions.schemas import extract_json, output_schema
from tests.servers.openai_rules import strict_schema


class Address(BaseModel):
    city: str


class Review(BaseModel):
    sentiment: Literal["pos", "neg"]
    score: int = Field(ge=1, le=5)
    tags: list[str] = []
    address: Address | None = None


class Loose(BaseModel):
    counts: dict[str, int]


class Movie(TypedDict, total=False):  # typing.TypedDict: pydantic refuses it on Python 3.11 unless rebuilt
    title: str
    year: int


@dataclasses.dataclass
class Point:
    x: float
    y: float = 0.0


def test_a_pydantic_model_becomes_a_strict_schema_the_openai_rules_accept():
    out = output_schema(Review)
    assert (out.name, out.strict, out.fields) == ("Review", True, ("sentiment", "score", "tags", "address"))
    assert strict_schema(out.json_schema) is None  # the fake server's copy of OpenAI's strict-mode rules
    assert out.json_schema["required"] == ["sentiment", "score", "tags", "address"]
    assert "default" not in out.json_schema["properties"]["address"]
    value, data = out.parse('{"sentiment": "pos", "score": 4, "tags": [], "address": {"city": "Oslo"}}')
    assert value == Review(sentiment="pos", score=4, address=Address(city="Oslo"))
    assert data["address"] == {"city": "Oslo"}
    assert output_schema(Review) is out  # built once per type


def test_an_open_object_is_not_strict_and_goes_as_pydantic_wrote_it():
    out = output_schema(Loose)
    assert not out.strict
    assert out.json_schema["properties"]["counts"]["additionalProperties"] == {"type": "integer"}
    assert out.parse('{"counts": {"a": 1}}')[0] == Loose(counts={"a": 1})


def test_typed_dicts_and_dataclasses_work_too():
    movie = output_schema(Movie)
    assert movie.name == "Movie" and movie.strict and movie.fields == ("title", "year")
    assert movie.parse('{"title": "Heat", "year": 1995}')[0] == {"title": "Heat", "year": 1995}
    point = output_schema(Point)
    assert point.parse('{"x": 1, "y": 2.5}')[0] == Point(1.0, 2.5)
    assert point.row(Point(1.0, 2.5)) == {"x": 1.0, "y": 2.5}


def test_a_json_schema_dict_is_sent_as_given_and_validated():
    spec = {"title": "Label it!", "type": "object", "properties": {"label": {"enum": ["a", "b"]}},
            "required": ["label"]}
    out = output_schema(spec)
    assert (out.name, out.strict, out.json_schema) == ("Label_it_", False, spec)
    closed = {**spec, "additionalProperties": False}
    assert output_schema(closed).strict
    assert out.parse('{"label": "a"}') == ({"label": "a"}, {"label": "a"})
    with pytest.raises(ValueError, match=r"label must be one of \['a', 'b'\] \(got 'c'\)"):
        out.parse('{"label": "c"}')


def test_validation_errors_name_the_field_and_what_came():
    out = output_schema(Review)
    with pytest.raises(ValueError, match=r"score: Input should be less than or equal to 5 \(got 9\)"):
        out.parse('{"sentiment": "pos", "score": 9, "tags": [], "address": null}')
    with pytest.raises(ValueError, match="not valid JSON"):
        out.parse('{"sentiment": "pos", ')


@pytest.mark.parametrize("bad", [list[str], int, {"type": "array"}, {"type": "object", "properties": 3}])
def test_a_schema_that_is_not_an_object_is_refused_with_a_hint(bad):
    with pytest.raises(AiSessionsError) as info:
        output_schema(bad)
    assert info.value.hint


def test_a_type_pydantic_cannot_describe_is_refused_with_a_hint():
    class NotAModel:
        pass

    with pytest.raises(AiSessionsError, match="cannot make a JSON schema") as info:
        output_schema(NotAModel)
    assert "pydantic model" in info.value.hint


@pytest.mark.parametrize(("text", "json_text"), [
    ('{"a": 1}', '{"a": 1}'),
    ('```json\n{"a": 1}\n```', '{"a": 1}'),
    ('Sure! Here it is: {"a": {"b": 2}} Hope it helps.', '{"a": {"b": 2}}'),
    ("no json", "no json"),
])
def test_json_is_found_in_fences_and_prose(text, json_text):
    assert extract_json(text) == json_text


def test_parsed_is_the_registered_type_else_the_data(monkeypatch):
    out = output_schema(Review)
    data = {"sentiment": "neg", "score": 2, "tags": ["x"], "address": None}
    message = Message("m", "s", 1, Role.ASSISTANT, (TextPart(json.dumps(data)), StructuredPart(data, out.name)))
    assert message.parsed == Review(sentiment="neg", score=2, tags=["x"])
    assert message.parsed is message.parsed  # validated once
    monkeypatch.setattr(schemas, "_registry", {})  # a new process: the type was not used there yet
    fresh = message.with_(id="m2")
    assert fresh.parsed == data
    schemas.register(out)
    assert message.with_(id="m3").parsed == Review(sentiment="neg", score=2, tags=["x"])
    assert Message("m4", "s", 1, Role.ASSISTANT, "plain text").parsed is None


def test_importing_ai_sessions_does_not_import_pydantic_or_fastjsonschema():
    code = "import sys, ai_sessions; print([m for m in ('pydantic', 'fastjsonschema') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
