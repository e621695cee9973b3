"""What every figure shares: the result row, repetition and medians, isolated hubs, machine info."""

from __future__ import annotations

import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / ".cache"
PROVIDER_ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL",
                "GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL", "AZURE_OPENAI_API_KEY",
                "AZURE_OPENAI_ENDPOINT", "OPENAI_API_VERSION", "JPY_SESSION_NAME", "AI_SESSIONS_SETTINGS")


@dataclass
class Row:
    """One line of the results table. ``passed`` is None for a figure that has no budget (report only)
    or could not be measured; ``note`` says what was measured and how."""

    figure: str
    ours: float | None
    baseline: float | None
    unit: str
    budget: str
    passed: bool | None
    ratio: float | None = None
    note: str = ""
    baseline_label: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.ratio is None and self.ours is not None and self.baseline:
            self.ratio = self.ours / self.baseline


@dataclass(frozen=True)
class Sizes:
    """How big a run is: ``full`` for ``make bench``, ``smoke`` for the quick check in the unit tests."""

    smoke: bool

    def pick(self, full: Any, smoke: Any) -> Any:
        return smoke if self.smoke else full


def median(values: list[float]) -> float:
    return statistics.median(values)


def timed(fn: Callable[[], Any]) -> float:
    """Seconds ``fn()`` takes (perf_counter)."""
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


@contextmanager
def isolated_env() -> Iterator[Path]:
    """A temp dir holding config and data dirs, no keyring, no provider variables; restored after."""
    saved = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="ai_sessions-bench-") as tmp:
        for name in PROVIDER_ENV:
            os.environ.pop(name, None)
        os.environ["AI_SESSIONS_CONFIG_DIR"] = str(Path(tmp) / "config")
        os.environ["AI_SESSIONS_DATA_DIR"] = str(Path(tmp) / "data")
        os.environ["AI_SESSIONS_NO_KEYRING"] = "1"
        try:
            yield Path(tmp)
        finally:
            os.environ.clear()
            os.environ.update(saved)


def make_hub(tmp: Path, providers: dict[str, dict[str, Any]] | None = None, default_model: str | None = None,
             store_path: Path | None = None) -> Any:
    """A hub on its own store in ``tmp``, with provider tables ``{name: {"kind": ..., options...}}``."""
    from ai_sessions.hub import SessionHub
    from ai_sessions.keys import KeyStore
    from ai_sessions.providers.base import ProviderConfig
    from ai_sessions.settings import Defaults, Settings

    configs = {}
    for name, options in (providers or {}).items():
        options = dict(options)
        configs[name] = ProviderConfig(name, options.pop("kind", name), options)
    defaults = Defaults(model=default_model) if default_model else Defaults()
    return SessionHub(settings=Settings(defaults=defaults, providers=configs),
                      store_path=store_path or tmp / "data" / "sessions.db",
                      keys=KeyStore(tmp / "config" / "keys.json", use_keyring=False), scope="bench.ipynb")


def machine_info() -> dict[str, str]:
    """CPU, cores, memory, OS and the versions that matter, for the results header."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        import psutil

        memory = f"{psutil.virtual_memory().total / 2**30:.1f} GiB"
    except ImportError:
        pass
    info = {"cpu": cpu, "cores": str(os.cpu_count()), "memory": memory,
            "os": f"{platform.system()} {platform.release()}", "python": sys.version.split()[0],
            "load average at the end (1, 5, 15 min; other work on the machine skews absolute figures)":
                ", ".join(f"{x:.1f}" for x in os.getloadavg())}
    for module in ("openai", "anthropic", "google.genai", "ipykernel", "anywidget", "ipywidgets"):
        try:
            mod = __import__(module, fromlist=["__version__"])
            info[module] = str(getattr(mod, "__version__", "?"))
        except ImportError:
            info[module] = "not installed"
    return info
