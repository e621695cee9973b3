"""The fake servers' reply rules: schema instances validate, directives parse, and the decision order holds."""

from __future__ import annotations

import datetime
import enum
import json

import jsonschema
import pytest
from pydantic import BaseModel, Field

from tests.servers.replies import Ask, Call, Reply, as_reply, decide, directives
from tests.servers.schema import instance


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Point(BaseModel):
    x: float = Field(ge=3)
    y: int = Field(le=-2)


class Figure(BaseModel):
    title: str = Field(min_length=12)
    colour: Colour
    points: list[Point] = Field(min_length=2)
    when: datetime.date
    caption: str | None
    tags: tuple[str, int]
    extra: dict[str, int]


SCHEMAS = [
    Figure.model_json_schema(),
    {"type": "object", "properties": {"a": {"type": ["null", "integer"]}, "b": {"const": "fixed"},
                                      "c": {"allOf": [{"type": "object", "properties": {"d": {"type": "boolean"}}}]},
                                      "e": {"type": "integer", "exclusiveMinimum": 5}}},
    {"type": "array", "items": {"oneOf": [{"type": "null"}, {"type": "string", "format": "email"}]}, "minItems": 3},
]


@pytest.mark.parametrize("schema", SCHEMAS)
def test_instances_validate_against_their_schema(schema):
    jsonschema.validate(instance(schema), schema)


def test_a_pydantic_model_accepts_its_instance_and_choices_are_the_documented_ones():
    figure = Figure.model_validate(instance(Figure.model_json_schema()))
    assert (figure.colour, len(figure.points), figure.points[0].x, figure.when) == (
        Colour.RED, 2, 3, datetime.date(2025, 1, 2))


def test_gemini_openapi_schemas_with_capital_types_work():
    schema = {"type": "OBJECT", "properties": {"n": {"type": "INTEGER"}, "items": {"type": "ARRAY",
                                                                                   "items": {"type": "STRING"}}}}
    assert instance(schema) == {"n": 1, "items": ["sample"]}


def test_directives_parse_nested_json_and_keep_broken_json_verbatim():
    text = 'a [[call:lookup {"q": {"nested": [1]}}]] b [[call:ping]] c [[call:bad {"x": }]] [[p7]]'
    assert directives(text) == [Call("lookup", {"q": {"nested": [1]}}), Call("ping", {}), Call("bad", '{"x": }')]
    assert Call("bad", '{"x": }').args() == {"_raw": '{"x": }'}


def test_the_decision_order():
    tools = {"get": {"type": "object", "properties": {"k": {"type": "string"}}}}
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    directive = Ask("m", 1, "[[call:get {}]]", tools=tools, forced="get", schema=schema)
    assert decide(directive) == Reply(calls=(Call("get", {}),))
    assert decide(Ask("m", 1, "hi", tools=tools, forced="")) == Reply(calls=(Call("get", {"k": "sample"}),))
    assert json.loads(decide(Ask("m", 3, "hi", results=("r",), schema=schema)).text) == {"n": 1}
    assert decide(Ask("m", 3, "[[call:get {}]]", results=("sunny", "12:00"))).text == "m got tool results: sunny; 12:00"
    assert decide(Ask("m", 1, "hello")).text == "m heard 1 turn(s); last: hello"


def test_scripted_items_become_replies():
    assert as_reply("t") == Reply(text="t")
    assert as_reply(Call("a")) == Reply(calls=(Call("a"),))
    assert as_reply([Call("a"), Call("b")]).calls == (Call("a"), Call("b"))
    assert Reply(text="x" * 13, calls=(Call("a", {"k": 1}),)).tokens() == 3 + 2
