"""Importing an export (``hub.import_session``): every field is checked, by type and range, before anything
is stored; a bad field is one clear error naming it, and nothing of the import remains (issue 9, item 10)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from ai_sessions.errors import AiSessionsError
from ai_sessions.providers.base import ProviderConfig
from ai_sessions.settings import Defaults, Settings
from tests.scripted import SCRIPTS


@pytest.fixture
def shub(make_hub):
    SCRIPTS.clear()
    return make_hub(settings=Settings(defaults=Defaults(model="scripted:m"),
                                      providers={"scripted": ProviderConfig("scripted", "scripted")}))


# -- issue 9: import checks -------------------------------------------------------------------------------
def _nest(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"a": value}
    return value


def _tool_call(**fields: Any) -> dict[str, Any]:
    part = {"kind": "tool_call", "id": "call_1", "name": "lookup", "arguments": {"q": "x"}} | fields
    return {"role": "assistant", "parts": [part], "model": "scripted:m", "status": "complete"}


def _session(**fields: Any):
    return lambda d: d["session"].update(fields)


def _message(index: int, **fields: Any):
    return lambda d: d["messages"][index].update(fields)


#: a change to a good export -> the word the error must name
BAD = {
    "model-number": (_session(model=42), "model"),
    "model-without-provider": (_session(model="gpt-4o"), "model"),
    "model-list": (_session(model=["scripted:m"]), "model"),
    "temperature-text": (_session(params={"temperature": "0.2"}), "temperature"),
    "temperature-nan": (_session(params={"temperature": math.nan}), "temperature"),
    "max-tokens-huge": (_session(params={"max_tokens": 10**30}), "max_tokens"),
    "params-unknown": (_session(params={"top_k": 3}), "params"),
    "system-prompt-number": (_session(system_prompt=5), "system_prompt"),
    "system-prompt-surrogate": (_session(system_prompt="be \ud800 brief"), "system_prompt"),
    "name-number": (_session(name=7), "name"),
    "content-number": (_message(0, content=5), "content"),
    "content-surrogate": (_message(0, content="a \udc80 b"), "surrogate"),
    "role-unknown": (_message(0, role="system"), "role"),
    "status-unknown": (_message(1, status="weird"), "status"),
    "message-model-number": (_message(1, model=3), "model"),
    "created-at-text": (_message(0, created_at="yesterday"), "created_at"),
    "created-at-far-future": (_message(0, created_at=1e300), "created_at"),
    "cost-negative": (_message(1, cost=-1), "cost"),
    "cost-nan": (_message(1, cost=math.nan), "cost"),
    "usage-text": (_message(1, usage={"input_tokens": "3", "output_tokens": 1}), "usage"),
    "usage-huge": (_message(1, usage={"input_tokens": 2**64, "output_tokens": 1}), "usage"),
    "error-number": (_message(1, error=404), "error"),
    "parts-not-list": (_message(1, parts="hello"), "parts"),
    "part-kind-unknown": (_message(1, parts=[{"kind": "video", "url": "x"}]), "kind"),
    "tool-name-surrogate": (lambda d: d["messages"].append(_tool_call(name="look\ud800up")), "name"),
    "tool-id-number": (lambda d: d["messages"].append(_tool_call(id=12)), "id"),
    "tool-arguments-deep": (lambda d: d["messages"].append(_tool_call(arguments=_nest(200))), "deep"),
    "tool-arguments-nan": (lambda d: d["messages"].append(_tool_call(arguments={"x": math.nan})), "number"),
    "tool-arguments-surrogate": (lambda d: d["messages"].append(_tool_call(arguments={"q": "\ud83d"})),
                                 "surrogate"),
    "structured-deep": (lambda d: d["messages"].append(
        {"role": "assistant", "parts": [{"kind": "structured", "data": _nest(200)}]}), "deep"),
    "switch-index-out-of-range": (lambda d: d["model_switches"][0].update(message_index=99), "message_index"),
    "switch-to-number": (lambda d: d["model_switches"][0].update(to=1), "to"),
    "switch-reason-number": (lambda d: d["model_switches"][0].update(reason=1), "reason"),
    "messages-not-list": (lambda d: d.update(messages={"0": "hi"}), "messages"),
    "model-surrogate": (_message(1, model="scripted:m\udfff"), "model"),
    "switch-from-surrogate": (lambda d: d["model_switches"][0].update({"from": "a:\ud800"}), "from"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_field_is_refused_by_name_and_nothing_is_imported(shub, make_hub, case):
    change, named = BAD[case]
    s = shub.session("orig")
    s.send("hi")
    s.switch_model("scripted:other")
    data = json.loads(s.export("json"))
    change(data)
    with pytest.raises(AiSessionsError, match="export") as info:
        shub.import_session(json.dumps(data), name="copy")
    assert named in str(info.value)
    assert [info.name for info in shub.sessions()] == ["orig"]  # and listing still works
    restarted = make_hub(settings=shub.settings)
    assert [info.name for info in restarted.sessions()] == ["orig"]


def test_a_number_too_long_to_read_is_refused(shub):
    s = shub.session("orig")
    s.send("hi")
    text = s.export("json").replace('"seq": 1', '"seq": 1' + "0" * 5000, 1)
    with pytest.raises(AiSessionsError, match="export is damaged"):
        shub.import_session(text, name="copy")
    assert [info.name for info in shub.sessions()] == ["orig"]


def test_an_export_with_every_kind_of_field_round_trips(shub):
    s = shub.session("orig")
    s.send("hi", temperature=0.5)
    s.configure(temperature=0.3, max_tokens=77, system_prompt="be brief")
    data = json.loads(s.export("json"))
    last = data["messages"][-1]["id"]
    data["messages"].append(_tool_call(arguments=_nest(10)) | {"id": "added", "parent_id": last})
    data["session"]["head"] = "added"  # the tree: the added message continues the current branch
    copy = shub.import_session(json.dumps(data), name="copy")
    assert copy.model == "scripted:m" and copy.params == {"temperature": 0.3, "max_tokens": 77}
    assert copy.system_prompt == "be brief"
    assert [m.content for m in copy.messages] == ["hi", "Hello world", ""]
    assert copy.messages[-1].tool_calls[0].arguments == _nest(10)
    assert "# copy" in copy.export("markdown")
    assert sorted(info.name for info in shub.sessions()) == ["copy", "orig"]
