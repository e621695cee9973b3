"""A seeded random run: a few hundred requests over the three cloud providers, several sessions
replying at once, random model switches and random faults. Nothing may be lost or duplicated: every
prompt is stored once and in order, every reply has the status its faults imply, complete replies hold
exactly the text the server sent once, failed ones a prefix of it, retries are counted exactly, and
the store, read back by a new hub, holds the same history."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from ai_sessions import MessageStatus, ProviderError, Role
from tests.servers.fixtures import (  # noqa: F401 - fixtures
    anthropic_server,
    fast_retries,
    gemini_server,
    openai_server,
    provider_settings,
)

SEED = 20251123
REQUESTS = 300
MODELS = ["openai:gpt-4o-mini", "anthropic:claude-haiku-4-5", "gemini:gemini-2.5-flash"]
#: (weight, faults, final status, requests the server receives)
PLANS = [
    (40, [], "complete", 1),
    (6, ["429"], "complete", 2),
    (6, ["500"], "complete", 2),
    (4, ["503", "429"], "complete", 3),
    (5, ["disconnect-early"], "complete", 2),
    (1, ["slow"], "complete", 2),
    (5, ["disconnect"], "failed", 1),
    (5, ["truncate"], "failed", 1),
    (4, ["malformed"], "failed", 1),
    (4, ["error_event"], "failed", 1),
    (3, ["401"], "failed", 1),
    (3, ["context"], "failed", 1),
    (2, ["503"] * 4, "failed", 4),
]


@dataclass
class Sent:
    session: str
    prompt: str
    tag: str
    provider: str
    status: str
    requests: int


def _last_tag(text: str) -> str | None:
    tags = re.findall(r"\[\[(\w+)\]\]", text)
    return tags[-1] if tags else None


def test_random_faults_lose_and_duplicate_nothing(make_hub, fast_retries, openai_server,  # noqa: F811
                                                  anthropic_server, gemini_server):  # noqa: F811
    rng = random.Random(SEED)
    servers = {"openai": openai_server, "anthropic": anthropic_server, "gemini": gemini_server}
    hub = make_hub(settings=provider_settings(timeout=0.5))
    names = [f"s{i}" for i in range(6)]
    sessions = {name: hub.session(name, model=rng.choice(MODELS)) for name in names}
    weights = [plan[0] for plan in PLANS]
    sent: list[Sent] = []
    count = 0
    while count < REQUESTS:
        batch = rng.sample(names, rng.randint(1, 4))
        handles = []
        for name in batch:
            session = sessions[name]
            if rng.random() < 0.2:
                session.switch_model(rng.choice(MODELS), reason="random")
            _, faults, status, requests = rng.choices(PLANS, weights)[0]
            tag = f"t{count}"
            provider = session.model.partition(":")[0]
            servers[provider].fail(*faults, tag=tag)
            prompt = f"prompt {count} [[{tag}]]"
            sent.append(Sent(name, prompt, tag, provider, status, requests))
            handles.append(session.submit(prompt))
            count += 1
        for handle in handles:
            try:
                handle.result(30)
            except ProviderError:
                pass

    records = {tag: [] for tag in (s.tag for s in sent)}
    for server in servers.values():
        for record in server.streams():
            records[_last_tag(server.protocol.last_user_text(record.body))].append(record)

    for name, session in sessions.items():
        mine = [s for s in sent if s.session == name]
        messages = session.messages
        assert [m.role for m in messages] == [Role.USER, Role.ASSISTANT] * len(mine)
        assert [m.content for m in messages[::2]] == [s.prompt for s in mine]  # each prompt once, in order
        for expected, reply in zip(mine, messages[1::2], strict=True):
            received = records[expected.tag]
            assert len(received) == expected.requests, (expected, [r.fault for r in received])
            assert {r.path.split("/")[1] for r in received} <= {"v1", "v1beta"}
            assert reply.model is not None and reply.model.startswith(expected.provider + ":")
            assert reply.status.value == expected.status, (expected, reply.error)
            full = received[-1].reply
            if reply.status is MessageStatus.COMPLETE:
                assert reply.content == full and reply.usage is not None
            else:
                assert full.startswith(reply.content) and (not full or len(reply.content) < len(full))
    assert sum(len(server.streams()) for server in servers.values()) == sum(s.requests for s in sent)

    before = {name: [(m.seq, m.role, m.content, m.status, m.model) for m in s.messages]
              for name, s in sessions.items()}
    hub.shutdown()
    reopened = make_hub(settings=provider_settings())
    after = {name: [(m.seq, m.role, m.content, m.status, m.model) for m in reopened.get(name).messages]
             for name in names}
    assert after == before
