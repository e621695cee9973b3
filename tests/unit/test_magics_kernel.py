"""%%ai_session in a real kernel on the embedded model: the reply streams as one output updated in place,
`_` holds it, and interrupting the kernel stops the reply and keeps its partial text."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="needs the local extra")
ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 120


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[Any]:
    from jupyter_client.manager import start_new_kernel

    env = {**os.environ, "PYTHONPATH": str(ROOT), "IPYTHONDIR": str(tmp_path / "ipython")}
    km, kc = start_new_kernel(kernel_name="python3", env=env, cwd=str(tmp_path))
    try:
        yield km, kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def run(kc: Any, code: str, on_output: Any = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Execute ``code``; returns the reply and the iopub messages of that execution."""
    msg_id = kc.execute(code)
    messages = []
    while True:
        msg = kc.get_iopub_msg(timeout=TIMEOUT)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        messages.append(msg)
        if on_output is not None:
            on_output(msg)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    while True:  # the reply to this request: start_new_kernel can leave a spare kernel_info_reply queued
        reply = kc.get_shell_msg(timeout=TIMEOUT)
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply, messages


def test_the_reply_streams_in_place_and_an_interrupt_stops_it(kernel):
    km, kc = kernel
    reply, _ = run(kc, "%load_ext ai_sessions\n%ai_session new k --max-tokens 300")
    assert reply["content"]["status"] == "ok"

    reply, messages = run(kc, "%%ai_session\nSay hello in five words.")
    kinds = [m["msg_type"] for m in messages]
    assert reply["content"]["status"] == "ok"
    assert kinds.count("display_data") == 1  # one output, then updates of it
    assert "execute_result" not in kinds  # the cell's value (`_`) is not shown a second time
    final = [m for m in messages if m["msg_type"] in ("display_data", "update_display_data")][-1]
    assert final["content"]["data"]["text/markdown"].strip()
    reply, messages = run(kc, "print(_.message.status, _ == _.message.content)")
    assert "complete True" in "".join(m["content"].get("text", "") for m in messages)

    interrupted = False

    def interrupt_on_text(msg: dict[str, Any]) -> None:
        nonlocal interrupted
        text = msg["content"].get("data", {}).get("text/plain", "")
        if msg["msg_type"] == "update_display_data" and len(text) > 20 and not interrupted:
            interrupted = True
            km.interrupt_kernel()

    reply, _ = run(kc, "%%ai_session\nWrite a long story about a data scientist, with many chapters.",
                   on_output=interrupt_on_text)
    assert interrupted and reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt"
    reply, messages = run(kc, "import ai_sessions\nm = ai_sessions.hub().get('k').messages[-1]\n"
                              "print(m.status, len(m.content) > 20)")
    assert "stopped True" in "".join(m["content"].get("text", "") for m in messages)
