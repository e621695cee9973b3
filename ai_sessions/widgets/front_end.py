"""What the kernel has heard about the front end its widgets render in.

Views tell whether their page can open a JupyterLab tab (JupyterLab's dock area; Jupyter Notebook 7 and
VS Code have none). Until one tells, nothing is known; the last report wins (one kernel, one front end,
as a rule).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FrontEnd:
    #: Whether the front end can open tabs (None: no view has said yet).
    tabs: bool | None = None


FRONT_END = FrontEnd()
