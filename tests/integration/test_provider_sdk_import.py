"""A provider's first use imports its SDK, reads the price table and makes its client off the hub loop, so
the other sessions streaming there never freeze for the ~2 s an SDK import takes (issue 9, item 6; the
stall itself is measured in bench/, not here).

A fresh interpreter (the SDKs are not imported yet) sends one prompt to each cloud provider's fake server
and records, through an audit hook, the threads on which each package's modules were loaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.servers.fixtures import anthropic_server, gemini_server, openai_server  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parents[2]
SDKS = ("openai", "anthropic", "google.genai", "genai_prices")
#: what the SDKs' clients load when they are made (their HTTP transports)
TRANSPORTS = ("httpx", "httpx2", "httpcore", "httpcore2", "aiohttp")

CHILD = r"""
import json, sys, threading

PACKAGES = {packages!r}
loaded_on = {{}}  # package -> the threads that loaded any of its modules


def audit(event, args):
    if event == "import":
        name = str(args[0])
        for package in PACKAGES:
            if name == package or name.startswith(package + "."):
                loaded_on.setdefault(package, set()).add(threading.current_thread().name)


sys.addaudithook(audit)
assert not [p for p in {sdks!r} if p in sys.modules]

from pathlib import Path

from ai_sessions.hub import SessionHub
from ai_sessions.keys import KeyStore
from ai_sessions.settings import load_settings

tmp = Path(sys.argv[1])
hub = SessionHub(settings=load_settings([]), store_path=tmp / "s.db", keys=KeyStore(tmp / "keys.json",
                 use_keyring=False), scope="sdk-import")
try:
    for model in ("openai:gpt-4o-mini", "anthropic:claude-sonnet-4-6", "gemini:gemini-2.5-flash"):
        reply = hub.session(model.split(":")[0], model=model).send("hi")
        assert reply.status.value == "complete" and reply.cost is not None, reply
finally:
    hub.shutdown()
print(json.dumps({{package: sorted(threads) for package, threads in loaded_on.items()}}))
"""


def test_sdks_prices_and_clients_load_off_the_hub_thread(openai_server, anthropic_server,  # noqa: F811
                                                         gemini_server, tmp_path):  # noqa: F811
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = CHILD.format(packages=SDKS + TRANSPORTS, sdks=SDKS)
    done = subprocess.run([sys.executable, "-c", child, str(tmp_path)], env=env, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    loaded_on = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(SDKS) <= set(loaded_on), loaded_on
    assert {package: threads for package, threads in loaded_on.items() if "ai_sessions-hub" in threads} == {}
