"""model="auto" on scripted providers: the choice per reply (first usable candidate, capability skips, unusable
providers, context windows, rules), failover before any text with a cool-down, every candidate down, the
switch log, and the [auto] settings checks."""

from __future__ import annotations

import asyncio
import warnings
from pathlib import Path

import pytest

from ai_sessions import EventKind, MessageStatus
from ai_sessions.auto import AutoChooser, failure_label, needs_of, rule_matches
from ai_sessions.conversation import Conversation
from ai_sessions.errors import (
    BadRequest,
    IncompleteReply,
    MissingSDK,
    NoUsableModel,
    ProviderServerError,
    RateLimited,
    SettingsError,
)
from ai_sessions.parts import FilePart, ImagePart, TextPart
from ai_sessions.providers import register
from ai_sessions.providers.base import Capabilities, ChatRequest, ProviderConfig, ResponseFormat, ToolSpec
from ai_sessions.reply import Reply, TurnSpec
from ai_sessions.settings import AutoRule, AutoSettings, Defaults, Settings, SettingsWarning, load_settings
from tests.scripted import SCRIPTS, Script, ScriptedProvider

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000")


class VisionProvider(ScriptedProvider):
    """A scripted provider whose models see images and take tools and schemas."""

    kind = "scripted-vision"
    capabilities = Capabilities(tools=True, images=True, documents=True, structured_output=True)


class PlainProvider(ScriptedProvider):
    """A scripted provider whose models take text only (no tools, images, documents or schemas)."""

    kind = "scripted-plain"
    capabilities = Capabilities()


register("scripted-vision", VisionProvider)
register("scripted-plain", PlainProvider)
PROVIDERS = {"scripted": ProviderConfig("scripted", "scripted-plain"),
             "vision": ProviderConfig("vision", "scripted-vision")}
TEXT, SEEING = "scripted:m1", "vision:v1"


def auto_settings(**auto: object) -> Settings:
    auto.setdefault("candidates", (TEXT, SEEING))
    return Settings(defaults=Defaults(model=TEXT), providers=PROVIDERS, auto=AutoSettings(**auto))  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def scripts(monkeypatch):
    import ai_sessions.retry as retry

    monkeypatch.setattr(retry, "_backoff", lambda state: 0.0)
    SCRIPTS.clear()
    SCRIPTS["m1"] = Script(chunks=["text ", "model"])
    SCRIPTS["v1"] = Script(chunks=["vision ", "model"])


def switches(s):
    return [(w.from_model, w.to_model, w.reason, w.message_index) for w in s.model_switches]


def replies(s):
    return [(m.model, m.status.value) for m in s.messages if m.role.value == "assistant"]


def test_each_reply_takes_the_first_usable_candidate_and_logs_a_change(make_hub):
    hub = make_hub(settings=auto_settings())
    s = hub.session("a", model="auto")
    assert (s.model, s.requested_model, s.fallback_reason) == ("auto", "auto", None)
    s.send("one")
    s.send("two")
    assert replies(s) == [(TEXT, "complete"), (TEXT, "complete")]
    assert switches(s) == [("auto", TEXT, "auto: first candidate", 0)]  # the same model again: nothing logged
    assert s.record.model == "auto" and hub.store.get_session(s.id).model == "auto"
    assert len(hub.store.load_switches(s.id)) == 1


def test_images_in_the_prompt_skip_a_candidate_that_cannot_see_them(make_hub):
    hub = make_hub(settings=auto_settings())
    s = hub.session("a", model="auto")
    s.send("plain")
    picture = s.send([TextPart("what is this?"), ImagePart("image/png", PNG)])
    assert picture.model == SEEING and picture.content == "vision model"
    s.send("plain again")
    assert switches(s)[1:] == [(TEXT, SEEING, "auto: needs images", 2), (SEEING, TEXT, "auto: first candidate", 4)]
    # history is translated for each model as for any switch: the text model got the image as a note
    last = SCRIPTS["m1"].requests[-1]
    assert [t.role for t in last.turns] == ["user", "assistant", "user", "assistant", "user"]


def test_tools_a_schema_and_pdfs_need_a_candidate_that_takes_them(make_hub):
    hub = make_hub(settings=auto_settings())
    runtime = hub.runtime
    session = hub.session("a", model="auto")

    def reply(prompt, **request) -> Reply:
        spec = TurnSpec(tuple(prompt), lambda model, turns: ChatRequest(model, turns, **request), "auto")
        return Reply(runtime, Conversation(session.id), "a", spec)

    async def choose(r: Reply) -> str:
        return (await AutoChooser(runtime.settings, runtime.catalogue, "auto").choose(r)).reason

    tools = reply([TextPart("x")], tools=(ToolSpec("lookup"),))
    schema = reply([TextPart("x")], response_format=ResponseFormat("answer", {"type": "object"}))
    pdf = reply([FilePart("application/pdf", b"%PDF-1.4", name="a.pdf")])
    assert (needs_of(tools).tools, needs_of(schema).schema, needs_of(pdf).documents) == (True, True, True)
    assert runtime.loop.run(choose(tools)) == "auto: needs tools"
    assert runtime.loop.run(choose(schema)) == "auto: needs a schema"
    assert runtime.loop.run(choose(pdf)) == "auto: needs documents"
    runner = reply([TextPart("x")])
    runner.spec.tools = object()  # a session with tools (ai_sessions.tools) needs them too
    assert needs_of(runner).tools


def test_a_history_longer_than_a_context_window_skips_that_candidate(make_hub):
    hub = make_hub(settings=auto_settings(context_windows={TEXT: 10}))
    s = hub.session("a", model="auto")
    assert s.send("short").model == TEXT
    long = s.send("x" * 200)
    assert long.model == SEEING
    assert switches(s)[-1][2] == f"auto: needs a longer context (~53 tokens; {TEXT} takes 10)"


def test_an_unusable_provider_is_skipped_with_its_reason(make_hub):
    hub = make_hub(settings=auto_settings(candidates=("openai:gpt-4o-mini", TEXT)))
    s = hub.session("a", model="auto")
    assert s.send("x").model == TEXT
    reason = switches(s)[0][2]
    assert reason.startswith("auto: openai:gpt-4o-mini unusable (") and "OPENAI_API_KEY" in reason


@pytest.mark.parametrize(("rule", "prompt", "matches"), [
    (AutoRule(SEEING, code_block=True), "fix this:\n```python\nx = 1\n```", True),
    (AutoRule(SEEING, code_block=True), "no code here, only `inline`", False),
    (AutoRule(SEEING, keywords=("prove", "derive")), "Please PROVE it.", True),
    (AutoRule(SEEING, keywords=("prove",)), "improve it", False),
    (AutoRule(SEEING, tokens_over=10), "x" * 44, True),
    (AutoRule(SEEING, tokens_over=10), "x" * 40, False),
    (AutoRule(SEEING, tokens_over=10, keywords=("sql",)), "x" * 44, False),  # every condition must hold
])
def test_rules(rule, prompt, matches):
    assert rule_matches(rule, prompt) is matches


def test_a_rule_starts_the_choice_at_a_later_candidate(make_hub):
    hub = make_hub(settings=auto_settings(rules=(AutoRule(SEEING, code_block=True),)))
    s = hub.session("a", model="auto")
    assert s.send("```\nprint(1)\n```").model == SEEING
    assert switches(s) == [("auto", SEEING, "auto: rule 1 (a code block)", 0)]
    assert s.send("words").model == TEXT


def test_a_server_error_fails_over_before_any_text(make_hub):
    hub = make_hub(settings=auto_settings())
    s = hub.session("a", model="auto")
    events: list = []
    hub.on("*", lambda e: events.append(e) if e.kind is not EventKind.RESPONSE_DELTA else None)
    deltas: list = []
    hub.on(EventKind.RESPONSE_DELTA, lambda e: deltas.append(e.payload["text"]))
    SCRIPTS["m1"].errors = [ProviderServerError("boom", provider="scripted", status_code=500)] * 4
    reply = s.send("hello")
    assert (reply.model, reply.status, reply.content) == (SEEING, MessageStatus.COMPLETE, "vision model")
    assert [(m.role.value, m.model) for m in s.messages] == [("user", None), ("assistant", SEEING)]
    assert "".join(deltas) == "vision model"  # one reply, only the text of the model that wrote it
    assert switches(s) == [("auto", TEXT, "auto: first candidate", 0),
                           (TEXT, SEEING, "auto: scripted failed: server error (500)", 1)]
    hub.runtime.loop.call(lambda: None)
    kinds = [(e.kind.value, e.payload.get("model")) for e in events if e.kind.value.startswith(("llm.", "model."))]
    assert kinds == [("model.switched", None), ("llm.request.started", TEXT), *[("llm.request.retry", None)] * 3,
                     ("llm.request.failed", TEXT), ("model.switched", None), ("llm.request.started", SEEING),
                     ("llm.response.completed", SEEING)]
    failed = next(e for e in events if e.kind is EventKind.REQUEST_FAILED).payload
    assert (failed["error_kind"], failed["status_code"], failed["attempts"]) == ("provider_error", 500, 4)
    assert hub.store.load_messages(s.id)[-1].model == SEEING


def test_a_failed_candidate_cools_down(make_hub):
    clock = [1000.0]
    hub = make_hub(settings=auto_settings(cooldown_s=60))
    hub.runtime.catalogue.clock = lambda: clock[0]
    s = hub.session("a", model="auto")
    SCRIPTS["m1"].errors = [RateLimited("slow down", provider="scripted")] * 4
    assert s.send("one").model == SEEING
    requests = len(SCRIPTS["m1"].requests)
    assert s.send("two").model == SEEING
    assert len(SCRIPTS["m1"].requests) == requests  # not asked while cooling down
    clock[0] += 30
    other = hub.session("b", model="auto")  # every auto session of the hub avoids it
    assert other.send("x").model == SEEING
    assert switches(other)[0][2] == f"auto: {TEXT} cooling down after rate limited (30 s left)"
    clock[0] += 31
    assert s.send("three").model == TEXT
    assert switches(s)[-1] == (SEEING, TEXT, "auto: first candidate", 4)


def test_no_failover_for_a_bad_request_or_after_text(make_hub):
    hub = make_hub(settings=auto_settings())
    s = hub.session("a", model="auto")
    SCRIPTS["m1"].errors = [BadRequest("no such parameter", provider="scripted")]
    with pytest.raises(BadRequest):
        s.send("bad")
    SCRIPTS["m1"] = Script(chunks=["half"], finish=False)  # text, then the stream ends without its end marker
    with pytest.raises(IncompleteReply):
        s.send("cut")
    assert replies(s) == [(TEXT, "failed"), (TEXT, "failed")]
    assert not SCRIPTS["v1"].requests


def test_every_candidate_down_is_one_clear_error_and_the_prompt_is_kept(make_hub):
    hub = make_hub(settings=auto_settings(candidates=("openai:gpt-4o-mini", "anthropic:claude-haiku-4-5")))
    s = hub.session("a", model="auto")
    with pytest.raises(NoUsableModel) as caught:
        s.send("anyone?")
    text = str(caught.value)
    assert text.startswith("no candidate of model='auto' can answer: openai:gpt-4o-mini unusable (")
    assert "; anthropic:claude-haiku-4-5 unusable (" in text and "ANTHROPIC_API_KEY" in text
    assert caught.value.hint.startswith("add a key")
    assert [(m.role.value, m.status.value, m.error_kind) for m in s.messages] == [
        ("user", "complete", None), ("assistant", "failed", "unavailable")]
    assert s.messages[0].content == "anyone?"


def test_when_every_candidate_fails_the_error_names_each_failure(make_hub):
    hub = make_hub(settings=auto_settings())
    s = hub.session("a", model="auto")
    SCRIPTS["m1"].errors = [ProviderServerError("boom", provider="scripted", status_code=503)] * 4
    SCRIPTS["v1"].errors = [MissingSDK("vision: the SDK is not installed", provider="vision")]
    with pytest.raises(NoUsableModel) as caught:
        s.send("hello")
    assert str(caught.value).startswith("every candidate of model='auto' failed or was skipped: "
                                        f"{TEXT}: failed: server error (503); {SEEING}: failed: SDK missing")
    assert caught.value.kind == "provider_error"
    assert s.messages[-1].model == SEEING and s.messages[-1].status is MessageStatus.FAILED


def test_regenerate_chooses_again(make_hub):
    hub = make_hub(settings=auto_settings())
    s = hub.session("a", model="auto")
    s.send([TextPart("look"), ImagePart("image/png", PNG)])
    assert s.regenerate().model == SEEING  # the prompt answered has the image


def test_switching_to_and_from_auto(make_hub):
    hub = make_hub(settings=auto_settings())
    s = hub.session("a")
    s.send("fixed")
    assert s.switch_model("auto").to_model == "auto"
    s.send("auto now")
    s.switch_model(SEEING, reason="pinned")
    assert s.send("pinned").model == SEEING
    assert switches(s) == [(TEXT, "auto", None, 2), ("auto", TEXT, "auto: first candidate", 2),
                           ("auto", SEEING, "pinned", 4)]  # a switch names the model asked for: auto
    assert hub.resolve_model("auto") == ("auto", None)


def test_a_batch_run_of_an_auto_session_uses_its_first_usable_candidate(make_hub):
    hub = make_hub(settings=auto_settings())
    s = hub.session("a", model="auto")
    SCRIPTS.clear()
    s.map("{x}", ["a", "b"], progress=False)
    assert {model: len(script.requests) for model, script in SCRIPTS.items()} == {"m1": 2}
    SCRIPTS.clear()
    s.map("{x}", ["a"], progress=False, schema={"type": "object", "properties": {"x": {"type": "string"}}})
    assert list(SCRIPTS) == ["v1"]  # the plain model takes no schema: the first candidate that does


def test_failure_labels():
    assert failure_label(ProviderServerError("x", status_code=502)) == "server error (502)"
    assert failure_label(RateLimited("x")) == "rate limited"
    assert failure_label(MissingSDK("x")) == "SDK missing"


def test_the_choice_is_cheap_enough_to_run_per_reply(make_hub):
    """Not a timing test (that is bench/auto_bench.py): the choice makes no store or network call."""
    hub = make_hub(settings=auto_settings())
    s = hub.session("a", model="auto")
    s.send("warm")
    calls: list = []
    store = hub.store
    original = store.defer
    store.defer = lambda *a, **k: calls.append(a[0]) or original(*a, **k)  # type: ignore[method-assign]
    try:
        reply = Reply(hub.runtime, Conversation(s.id), "a",
                      TurnSpec((TextPart("x"),), lambda m, t: ChatRequest(m, t), "auto"))
        hub.runtime.loop.run(AutoChooser(hub.runtime.settings, hub.runtime.catalogue, TEXT).choose(reply))
    finally:
        store.defer = original  # type: ignore[method-assign]
    assert calls == []


# -- settings -------------------------------------------------------------------------------------------
def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_auto_settings_are_read(tmp_path):
    settings = load_settings([write(tmp_path / "s.toml", """
[auto]
candidates = ["openai:gpt-4o-mini", "local:smollm2"]
cooldown_s = 30
context_windows = { "local:smollm2" = 2048 }

[[auto.rules]]
tokens_over = 2000
keywords = ["Prove"]
use = "local:smollm2"
""")])
    assert settings.auto == AutoSettings(("openai:gpt-4o-mini", "local:smollm2"),
                                         (AutoRule("local:smollm2", 2000, None, ("prove",)),), 30.0,
                                         {"local:smollm2": 2048})
    assert load_settings([]).auto.effective_candidates("openai:gpt-4o") == ("openai:gpt-4o", "local:smollm2")


@pytest.mark.parametrize(("text", "key", "message"), [
    ('[auto]\ncandidates = "openai:gpt-4o"\n', "auto.candidates", "expected a non-empty list"),
    ('[auto]\ncandidates = []\n', "auto.candidates", "expected a non-empty list"),
    ('[auto]\ncandidates = ["gpt-4o"]\n', "auto.candidates", "'gpt-4o' is not a 'provider:model' name"),
    ('[auto]\ncandidates = ["nope:x"]\n', "auto.candidates", "unknown provider 'nope'"),
    ('[auto]\ncooldown_s = -1\n', "auto.cooldown_s", "expected a number of seconds"),
    ('[auto]\ncontext_windows = { "local:smollm2" = "big" }\n', "auto.context_windows", "positive integer"),
    ('[auto]\ncandidates = ["local:smollm2"]\n[[auto.rules]]\ncode_block = true\nuse = "openai:gpt-4o"\n',
     "auto.rules.use", "rule 1: use = 'openai:gpt-4o' is not one of the candidates (local:smollm2)"),
    ('[auto]\ncandidates = ["local:smollm2"]\n[[auto.rules]]\nuse = "local:smollm2"\n', "auto.rules",
     "rule 1 has no condition"),
    ('[auto]\ncandidates = ["local:smollm2"]\n[[auto.rules]]\nkeywords = "sql"\nuse = "local:smollm2"\n',
     "auto.rules.keywords", "expected a list of words"),
])
def test_bad_auto_settings_name_the_key(tmp_path, text, key, message):
    with pytest.raises(SettingsError) as caught:
        load_settings([write(tmp_path / "s.toml", text)])
    assert caught.value.key == key and message in str(caught.value) and caught.value.line is not None


def test_unknown_auto_keys_warn_with_their_line(tmp_path):
    path = write(tmp_path / "s.toml", '[auto]\ncandidate = []\n[[auto.rules]]\ncode_block = true\n'
                                      'use = "local:smollm2"\ncolour = "red"\n')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_settings([path])
    assert [str(w.message) for w in caught if w.category is SettingsWarning] == [
        f"{path}, line 2: unknown key 'auto.candidate' is ignored",
        f"{path}, line 6: unknown key 'auto.rules.colour' is ignored"]


def test_an_async_choice_never_blocks_the_loop_on_the_price_table(make_hub, monkeypatch):
    """The context-window lookup imports genai-prices' table (~1 s): in a worker thread, not on the hub loop."""
    import sys

    hub = make_hub(settings=auto_settings())
    monkeypatch.delitem(sys.modules, "genai_prices.data", raising=False)
    threads: list = []
    import importlib

    real = importlib.import_module

    def spy(name, *args):
        if name == "genai_prices.data":
            threads.append(hub.runtime.loop.in_loop_thread())
        return real(name, *args)

    monkeypatch.setattr("ai_sessions.auto.importlib.import_module", spy)
    spec = TurnSpec((TextPart("x"),), lambda m, t: ChatRequest(m, t), "auto")
    reply = Reply(hub.runtime, Conversation("x"), "a", spec)
    hub.runtime.loop.run(AutoChooser(hub.runtime.settings, hub.runtime.catalogue, "auto").choose(reply))
    assert threads == [False]


def test_choose_is_a_coroutine():
    assert asyncio.iscoroutinefunction(AutoChooser.choose) and asyncio.iscoroutinefunction(AutoChooser.fail_over)


def test_a_regeneration_or_edit_chooses_for_the_branch_it_follows(make_hub):
    """An auto reply that branches (regenerate at an earlier reply, edit) answers the prompt before its branch
    point, not the newest one of the branch, and its switch is logged where it stands."""
    SCRIPTS.clear()
    hub = make_hub(settings=auto_settings())
    s = hub.session("a", model="auto")
    s.send([TextPart("look"), ImagePart("image/png", PNG)])
    s.send("plain")
    assert [m.model for m in s.messages if m.role.value == "assistant"] == [SEEING, TEXT]
    again = s.regenerate(at=1)  # the reply to the image: only the seeing model can take it
    assert again.model == SEEING and len(s.messages) == 2
    assert (switches(s)[-1][1], switches(s)[-1][3]) == (SEEING, 1)
    s.send("plain again")
    s.edit(0, "LOOK")  # the image stays with the edited question
    assert s.messages[-1].model == SEEING and len(s.messages) == 2
    assert (switches(s)[-1][1], switches(s)[-1][3]) == (SEEING, 0)
