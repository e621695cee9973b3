"""Batch jobs in the widgets: the chat's progress bar follows a job's polls (then shows its summary), and the
hub panel lists the jobs still running (also those of an earlier kernel), with the provider's counts."""

from __future__ import annotations

import pytest

from tests.servers.fixtures import cloud_hub, fast_retries, openai_server  # noqa: F401 - fixtures

pytest.importorskip("anywidget")
widgets = pytest.importorskip("ai_sessions.widgets", reason="build the JS bundle first (cd js && npm run build)")
from tests.unit.test_widgets import Recorder  # noqa: E402 - after the skip


def test_the_chat_bar_follows_a_batch_job(cloud_hub, openai_server):  # noqa: F811
    s = cloud_hub.session("r", model="openai:gpt-4o-mini")
    chat = widgets.ChatWidget(session=s)
    rec = Recorder(chat)
    job = s.submit_map("Q: {q}", ["a", "b", "c"], mode="batch")
    rec.wait(lambda: chat.batch.get("total") == 3, "the job in the bar")
    assert chat.batch["active"] == "batch job running at the provider" and chat.batch["done"] is False
    openai_server.batches.advance(completed=2)
    job.refresh()
    rec.wait(lambda: chat.batch.get("completed") == 2, "the provider's count")
    openai_server.batches.finish()
    job.wait(progress=False)
    rec.wait(lambda: chat.batch.get("done") is True, "the bar becomes the run's summary when results are stored")
    assert (chat.batch["completed"], chat.batch["total"]) == (3, 3) and chat.batch["elapsed_s"] >= 0
    chat.close()


def test_the_panel_lists_running_jobs(cloud_hub, openai_server):  # noqa: F811
    s = cloud_hub.session("reviews", model="openai:gpt-4o-mini")
    job = s.submit_map("Q: {q}", ["a", "b"], mode="batch").refresh()  # polled once: the provider's state is known
    panel = cloud_hub.panel()
    rec = Recorder(panel)
    (row,) = panel.jobs
    assert (row["id"], row["session"], row["mode"], row["state"], row["total"]) == (job.id, "reviews", "batch",
                                                                                   "running", 2)
    assert row["followed"] is True and row["provider_state"] == "validating"
    openai_server.batches.finish()
    job.wait(progress=False)
    rec.wait(lambda: panel.jobs == [], "the ended job leaves the list")
    panel.close()
