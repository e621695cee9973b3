"""The pieces of jobs that need no provider: the job tables (results land once, interrupted live jobs,
lookups), polling backoff, the progress line, the [batch] settings, estimates and the cacheable prefix."""

from __future__ import annotations

import builtins
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from IPython.utils.capture import capture_output

from ai_sessions import job_store
from ai_sessions.batch import user_turn
from ai_sessions.errors import AiSessionsError, SettingsError
from ai_sessions.estimate import Estimate, confirm, rule_tokens
from ai_sessions.job_progress import JobProgressView, job_label
from ai_sessions.job_runner import custom_id, next_delay, position_of
from ai_sessions.job_store import ItemResult, JobRecord, NewItem
from ai_sessions.model import SessionRecord, Usage
from ai_sessions.parts import TextPart
from ai_sessions.providers.base import ChatRequest, ChatTurn
from ai_sessions.settings import BatchSettings, SettingsWarning, load_settings
from ai_sessions.store import WRITER, Store
from ai_sessions.templates import fixed_prefix
from tests.unit.test_magics import ipython_shell


@pytest.fixture
def store(tmp_path: Path):
    store = Store(tmp_path / "s.db")
    store.create_session(SessionRecord("sid", "s", "nb", "openai:gpt-4o-mini"))
    yield store
    store.close()


def _job(store: Store, n: int = 3, **changes) -> JobRecord:
    record = JobRecord(changes.pop("id", "job-1"), "sid", "nb", changes.pop("mode", "batch"), "openai:gpt-4o-mini",
                       "running", "{x}", "list", n, **changes)
    job_store.create(store, record, (NewItem(i, i, custom_id(i), f"h{i}", f"p{i}") for i in range(n)))
    return record


def test_a_result_lands_only_into_a_pending_item(store):
    _job(store)
    first = [ItemResult(0, "ok", "a", {"x": 1}, Usage(3, 1), 0.5), ItemResult(1, "failed", error="no")]
    assert job_store.land(store, "job-1", first) == 2
    again = [ItemResult(0, "ok", "other", None, Usage(9, 9), 9.0), ItemResult(2, "ok", "c", None, Usage(1, 1))]
    assert job_store.land(store, "job-1", again) == 1  # item 0 already has its result
    items = job_store.items(store, "job-1")
    assert [(i.result.status, i.result.text) for i in items] == [("ok", "a"), ("failed", None), ("ok", "c")]
    assert items[0].result.data == {"x": 1} and items[0].prompt == "p0" and items[0].request_hash == "h0"
    totals = job_store.totals(store, ["job-1"])["job-1"]
    assert (totals.counts, totals.usage, totals.cost, totals.done) == ({"ok": 2, "failed": 1}, Usage(4, 2), 0.5, 3)
    assert job_store.settle_pending(store, "job-1", "expired", "late", "expired") == 0
    job_store.reopen(store, "job-1", [0, 1])  # a retry replaces failed results, never a success
    assert [i.result.status for i in job_store.items(store, "job-1")] == ["ok", "pending", "ok"]


def test_jobs_are_found_by_id_prefix_or_provider_id_and_listed_newest_first(store):
    _job(store, id="aaaa-1111", provider_job_id="batch_x", created_at=1.0)
    _job(store, id="aaab-2222", created_at=2.0)
    assert job_store.get(store, "batch_x").id == "aaaa-1111"
    assert job_store.get(store, "aaab").id == "aaab-2222"
    assert job_store.get(store, "aaa") is None  # too short / ambiguous
    assert job_store.get(store, "aa%") is None
    assert [r.id for r in job_store.listing(store, "nb")] == ["aaab-2222", "aaaa-1111"]
    job_store.set_state(store, "aaaa-1111", "ended", outcome="expired", counts={"completed": 1})
    ended = job_store.get(store, "aaaa-1111")
    assert (ended.state, ended.outcome, ended.counts, ended.ended_at is not None) == ("ended", "expired",
                                                                                      {"completed": 1}, True)


def test_a_live_job_whose_kernel_is_gone_is_interrupted(store):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    _job(store, id="live-1", mode="live", writer=f"{WRITER.rpartition(':')[0]}:{dead.stdout.strip()}")
    _job(store, id="live-2", mode="live", writer=WRITER)
    assert job_store.recover(store) == 1
    assert job_store.get(store, "live-1").state == "interrupted" and job_store.get(store, "live-2").state == "running"


def test_input_keys_keep_their_values_or_their_text(store):
    keys = [np.int64(7), "row-a", 2.5, None, pd.Timestamp("2025-01-02")]
    record = JobRecord("k", "sid", "nb", "live", "openai:x", "running", "{x}", "series", len(keys))
    job_store.create(store, record, (NewItem(i, k, custom_id(i), "h", "p") for i, k in enumerate(keys)))
    assert [i.key for i in job_store.items(store, "k")] == [7, "row-a", 2.5, None, "2025-01-02 00:00:00"]


def test_deleting_a_session_deletes_its_jobs(store):
    _job(store)
    store.delete_session("sid")
    assert job_store.get(store, "job-1") is None and job_store.items(store, "job-1") == []


def test_polls_back_off_until_something_changes():
    delays, delay = [], 10.0
    for changed in (True, False, False, False, False, True):
        delay = next_delay(delay, changed, 10.0, 30.0)
        delays.append(delay)
    assert delays == [10.0, 15.0, 22.5, 30.0, 30.0, 10.0]
    assert (custom_id(12), position_of("i12"), position_of("x1"), position_of("i")) == ("i12", 12, None, None)


def test_the_progress_line_says_what_the_provider_says():
    line = job_label({"mode": "batch", "state": "running", "provider_state": "in_progress", "total": 10000,
                      "completed": 120, "failed": 3, "elapsed": 75, "expires_at": None})
    assert line == ("batch job · running at the provider (in_progress) · 120/10,000 done · 3 failed · 9,877 in "
                    "progress · 1 min 15 s elapsed")
    gemini = job_label({"mode": "batch", "state": "running", "provider_state": "JOB_STATE_RUNNING", "total": 4,
                        "completed": None, "elapsed": 2})
    assert "4 submitted (counts come when it ends)" in gemini
    ended = job_label({"mode": "batch", "state": "ended", "outcome": "expired", "total": 4, "completed": 1,
                       "failed": 3, "elapsed": 3, "done": True, "expires_at": 1.0})
    assert ended.startswith("batch job · ended: expired · 1/4 done · 3 failed") and "deadline" not in ended


def test_the_progress_view_updates_one_output_in_place(tmp_path, monkeypatch):
    ipython_shell(tmp_path, monkeypatch)
    progress = {"mode": "batch", "state": "running", "total": 4, "completed": 0, "failed": 0, "elapsed": 0}
    with capture_output() as captured:
        view = JobProgressView()
        view.show(progress)
        view.show(progress)  # unchanged: nothing sent
        view.show({**progress, "completed": 2})
    first, second = captured.outputs
    assert not first.update and second.update and second.data["text/plain"].startswith("batch job")
    assert '<progress max="4" value="2"' in second.data["text/html"]


def test_batch_settings_are_read_and_checked(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text("[batch]\nconfirm_above_usd = 2\npoll_interval_s = 1.5\npoll_max_s = 60\n")
    assert load_settings([path]).batch == BatchSettings(2.0, 1.5, 60.0)
    assert load_settings([]).batch == BatchSettings(5.0, 10.0, 300.0)
    for bad, key in (("poll_interval_s = 0", "batch.poll_interval_s"), ('confirm_above_usd = "5"',
                                                                        "batch.confirm_above_usd"),
                     ("poll_max_s = 1", "batch.poll_max_s")):
        path.write_text(f"[batch]\n{bad}\n")
        with pytest.raises(SettingsError) as info:
            load_settings([path])
        assert info.value.key == key
    path.write_text("[batch]\npoll_every = 3\n")
    with pytest.warns(SettingsWarning, match="unknown key 'batch.poll_every'"):
        load_settings([path])


def test_the_rule_counts_characters_and_turns():
    request = ChatRequest("m", (ChatTurn("user", (TextPart("a" * 40), TextPart("b" * 8))),), system="s" * 12)
    assert rule_tokens(request) == math.ceil(60 / 4) + 4 * 2


def test_confirmation_asks_only_above_the_threshold(monkeypatch):
    estimate = Estimate("openai:x", "batch", 10, 1000, 100, 7.5, "rule")
    monkeypatch.setattr(builtins, "input", lambda prompt: pytest.fail("asked"))
    confirm(estimate, 10.0, ask=True)
    confirm(estimate, None, ask=True)
    confirm(estimate, 1.0, ask=False)  # not in a notebook: nobody to ask
    monkeypatch.setattr(builtins, "input", lambda prompt: "")
    with pytest.raises(AiSessionsError, match="not sent") as info:
        confirm(estimate, 1.0, ask=True)
    assert "dry_run=True" in info.value.hint


def test_the_templates_fixed_text_is_its_own_first_part():
    assert fixed_prefix("Classify {{this}}: {text} now") == "Classify {this}: "
    assert fixed_prefix("{text} then words") == "" and fixed_prefix("no fields") == ""
    turn = user_turn("Classify {this}: great now", "Classify {this}: ")
    assert [p.text for p in turn.parts] == ["Classify {this}: ", "great now"]
    assert user_turn("great", "").parts == (TextPart("great"),)
    assert user_turn("   x", "   ").parts == (TextPart("   x"),)  # a blank prefix is not worth its own part


def test_importing_ai_sessions_loads_no_job_machinery():
    code = ("import sys, ai_sessions; print([m for m in ('ai_sessions.jobs', 'ai_sessions.job_runner', "
            "'ai_sessions.providers.openai_batch') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}).stdout
    assert out.strip() == "[]"
