"""Jupyter server extension: serves the widgets' front-end files (``ai_sessions/static``).

The chat widget's saved state holds only a small loader (see ``widgets/_bundle.py``); the loader imports the
chat's code, styles and fonts from ``{base_url}ai-sessions/static/``, once per page, in JupyterLab and
Notebook 7 alike, with or without a kernel. Enabled by ``jupyter-config/jupyter_server_config.d/
ai_sessions.json``, installed with the package (also by ``pip install -e``).
"""

from __future__ import annotations

from typing import Any

from .widgets._bundle import STATIC

#: Where the files are served, below the server's base URL (js/src/loader_plan.ts names it too).
URL_PATH = "ai-sessions/static"


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "ai_sessions.server_extension"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from jupyter_server.base.handlers import FileFindHandler
    from jupyter_server.utils import url_path_join

    web_app = serverapp.web_app
    route = url_path_join(web_app.settings["base_url"], URL_PATH, "(.*)")
    # static files, like the server's own /static and JupyterLab's extension assets: no secret in them
    web_app.add_handlers(".*$", [(route, FileFindHandler, {"path": str(STATIC)})])
    serverapp.log.debug("ai_sessions: serving %s at %s", STATIC, route)
