"""Jobs across kernel restarts, with a real second process: a batch job submitted by a kernel that then
exits is found and finished by the next one; a kernel killed while storing a job's results leaves nothing
counted twice; a live map whose kernel died is ``interrupted`` and its unfinished items rerun."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ai_sessions import job_store, schemas
from tests.servers.fixtures import fast_retries, openai_server, provider_settings  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parents[2]
PRELUDE = """
import json, os, sys, threading
from ai_sessions.hub import SessionHub
from ai_sessions.keys import KeyStore
from tests.servers.fixtures import provider_settings
from pathlib import Path
STORE = Path(sys.argv[1])
hub = SessionHub(settings=provider_settings(), store_path=STORE, scope="test-notebook.ipynb",
                 keys=KeyStore(STORE.parent / "keys.json", use_keyring=False))
"""


def _kernel(script: str, store: Path) -> str:
    """Run ``script`` as another kernel on ``store``; its stdout."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", PRELUDE + textwrap.dedent(script), str(store)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode in (0, 9), done.stderr[-3000:]
    return done.stdout


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "sessions.db"


@pytest.mark.usefixtures("fast_retries")
def test_a_batch_job_survives_a_kernel_restart(make_hub, openai_server, store_path, monkeypatch):  # noqa: F811
    out = _kernel("""
        SCHEMA = {"title": "Label", "type": "object", "properties": {"label": {"enum": ["spam", "ham"]}},
                  "required": ["label"], "additionalProperties": False}
        s = hub.session("jobs", model="openai:gpt-4o-mini")
        job = s.submit_map("Is this spam? {text}", ["win money", "lunch at 12", "cheap pills"], schema=SCHEMA,
                           mode="batch")
        print(job.id)
        os._exit(0)  # the kernel goes away while the provider works
    """, store_path)
    job_id = out.strip()
    openai_server.batches.finish(fail=["i1"])
    monkeypatch.setattr(schemas, "_registry", {})
    hub = make_hub(settings=provider_settings(), store_path=store_path)
    (info,) = hub.jobs()
    assert (info.id, info.mode, info.state, info.done) == (job_id, "batch", "running", 0)
    job = hub.job(job_id)
    results = job.wait(progress=False).results()
    assert [item.status for item in results.items] == ["ok", "failed", "ok"]
    assert results[0] == {"label": "spam"} and results.items[0].prompt == "Is this spam? win money"
    assert (job.state, job.outcome) == ("ended", "completed")


@pytest.mark.usefixtures("fast_retries")
def test_results_land_once_when_a_kernel_dies_while_storing_them(make_hub, openai_server, store_path):  # noqa: F811
    first = make_hub(settings=provider_settings(), store_path=store_path)
    job = first.session("jobs", model="openai:gpt-4o-mini").submit_map("Q: {q}", list("abcde"), mode="batch")
    first.shutdown()
    openai_server.batches.finish()
    _kernel(f"""
        from ai_sessions import job_runner, job_store
        job_runner.COLLECT_CHUNK = 2
        real_land = job_store.land

        def land_then_die(*args, **kwargs):
            landed = real_land(*args, **kwargs)
            os._exit(9)  # killed right after the first chunk was stored

        job_store.land = land_then_die
        hub.job({job.id!r}).refresh()
    """, store_path)
    hub = make_hub(settings=provider_settings(), store_path=store_path)
    half = job_store.items(hub.store, job.id)
    assert [i.result.status for i in half] == ["ok", "ok", "pending", "pending", "pending"]
    assert hub.job(job.id).state == "collecting"
    landed_at = {i.result.position: i.result for i in half if i.result.status == "ok"}
    downloads = sum(r.path.endswith("/content") for r in openai_server.requests)
    results = hub.job(job.id).refresh().results()
    assert [i.status for i in results.items] == ["ok"] * 5
    assert sum(r.path.endswith("/content") for r in openai_server.requests) == downloads + 1  # collected again
    assert {p: results.items[p].usage for p in landed_at} == {p: r.usage for p, r in landed_at.items()}
    again = job_store.items(hub.store, job.id)
    assert all(again[p].result == landed_at[p] for p in landed_at)  # the first chunk was not written twice
    assert hub.job(job.id).usage.output_tokens == sum(i.usage.output_tokens for i in results.items)


@pytest.mark.usefixtures("fast_retries")
def test_a_live_map_whose_kernel_died_is_interrupted_and_reruns_the_rest(make_hub, openai_server,  # noqa: F811
                                                                         store_path):
    openai_server.fail("hold", tag="hang")  # the third request never ends: the kernel dies waiting
    out = _kernel("""
        from ai_sessions import EventKind
        two = threading.Event()
        hub.on(EventKind.SESSION_UPDATED,
               lambda e: two.set() if (e.payload.get("batch") or {}).get("completed") == 2 else None)
        handle = hub.session("jobs", model="openai:gpt-4o-mini").submit_map("Q: {q}", ["a", "b", "[[hang]] c"],
                                                                           concurrency=1)
        assert two.wait(60)
        print(handle.job.id)
        os._exit(0)
    """, store_path)
    hub = make_hub(settings=provider_settings(), store_path=store_path)
    (info,) = hub.jobs()
    assert (info.id, info.mode, info.state) == (out.strip(), "live", "interrupted")
    job = hub.job(info.id)
    landed = {i.position for i in job.results().items if i.status == "ok"}
    again = job.rerun().wait(progress=False)
    rerun_keys = [item.key for item in again.results().items]
    assert sorted(landed | set(rerun_keys)) == [0, 1, 2] and not landed & set(rerun_keys)
    assert json.loads(json.dumps(again.progress["outcome"])) == "completed"
