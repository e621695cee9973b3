"""Profile the hub thread while it streams a long reply (the work behind figure 1), with pyinstrument.

``python -m bench.profile [anthropic|openai|gemini] [tokens]`` prints pyinstrument's call tree of the hub
thread (where provider I/O, session state, events and widget updates run) for one reply.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from .common import isolated_env, make_hub
from .ours import Ours
from .server import ServerProcess, prompt, provider_options
from .streaming import KEY_ENV


def profile_reply(protocol: str, tokens: int, interval: float = 0.0001) -> Any:
    """A pyinstrument Session of the hub thread for one ``tokens``-token reply (after a warm-up reply)."""
    from pyinstrument import Profiler

    with ServerProcess(protocol) as server, isolated_env() as tmp:
        os.environ[KEY_ENV[protocol]] = server.key
        hub = make_hub(tmp, {protocol: provider_options(protocol, server.url)})
        try:
            ours = Ours(hub, protocol)
            ours.run(prompt(tokens))  # warm up: client, connection, imports
            profiler = Profiler(interval=interval, async_mode="disabled")
            hub.runtime.loop.call(profiler.start)  # profiles the thread that starts it: the hub thread
            ours.run(prompt(tokens))
            return hub.runtime.loop.call(profiler.stop)
        finally:
            hub.shutdown()


def main() -> None:
    protocol = sys.argv[1] if len(sys.argv) > 1 else "anthropic"
    tokens = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    session = profile_reply(protocol, tokens)
    from pyinstrument.renderers import ConsoleRenderer

    print(ConsoleRenderer(unicode=True, color=False, show_all=False, short_mode=False).render(session))


if __name__ == "__main__":
    main()
