"""Third-party providers register through the ``ai_sessions.providers`` entry point (P7): here a real
installed distribution (a ``.dist-info`` on sys.path), exactly as pip would leave it."""

from __future__ import annotations

import textwrap

import pytest

from ai_sessions import MessageStatus
from ai_sessions.providers import known_kinds
from ai_sessions.providers.base import ProviderConfig
from ai_sessions.settings import Settings

PLUGIN = '''
from ai_sessions.model import Usage
from ai_sessions.providers.base import Capabilities, Finished, ModelInfo, Provider, TextDelta


class EchoProvider(Provider):
    """Replies with the last prompt, reversed. It declares what a built-in declares: its options, its
    price id (genai-prices' "openai" table, to show that prices come from the declaration), its
    capabilities and its curated models."""

    kind = "acme-echo"
    options = {"greeting": str, "models": list}
    price_id = "openai"
    capabilities = Capabilities(images=True)

    def curated_models(self):
        return [ModelInfo(self.name, "mirror", "mirror")]

    async def stream(self, request):
        text = request.turns[-1].content[::-1]
        yield TextDelta(text)
        yield Finished(usage=Usage(1, 1), finish_reason="stop")
'''


@pytest.fixture
def installed_plugin(tmp_path, monkeypatch):
    """A real installed distribution (a .dist-info on sys.path) declaring the entry point."""
    site = tmp_path / "site"
    dist = site / "acme_echo-0.1.dist-info"
    dist.mkdir(parents=True)
    (site / "acme_echo.py").write_text(PLUGIN)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-echo\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(textwrap.dedent("""
        [ai_sessions.providers]
        acme-echo = acme_echo:EchoProvider
    """))
    monkeypatch.syspath_prepend(str(site))


def test_entry_point_provider_is_found_and_used(make_hub, installed_plugin):
    assert "acme-echo" in known_kinds()
    hub = make_hub(settings=Settings(providers={"acme": ProviderConfig("acme", "acme-echo")}))
    assert [m.full_name for m in hub.models() if m.provider == "acme"] == ["acme:mirror"]
    reply = hub.session("s", model="acme:mirror").send("stressed")
    assert (reply.status, reply.content, reply.model) == (MessageStatus.COMPLETE, "desserts", "acme:mirror")


def test_a_plugin_gets_option_checks_prices_and_capabilities_like_a_built_in(make_hub, installed_plugin, tmp_path):
    from ai_sessions.errors import SettingsError
    from ai_sessions.model import Usage
    from ai_sessions.settings import SettingsWarning, load_settings

    bad = tmp_path / "bad.toml"
    bad.write_text('[providers.acme]\nkind = "acme-echo"\ngreeting = 5\n', encoding="utf-8")
    with pytest.raises(SettingsError, match=r"greeting.*expected a string, got int"):
        load_settings([bad])
    typo = tmp_path / "typo.toml"
    typo.write_text('[providers.acme]\nkind = "acme-echo"\ngreting = "hi"\n', encoding="utf-8")
    with pytest.warns(SettingsWarning, match="unknown key 'providers.acme.greting'"):
        load_settings([typo])
    hub = make_hub()
    [info] = [m for m in hub.models() if m.provider == "acme-echo"]
    assert info.capabilities is not None and info.capabilities.images and not info.capabilities.tools
    assert hub.runtime.catalogue.cost("acme-echo:gpt-4o-mini", Usage(1000, 100)) == pytest.approx(
        hub.runtime.catalogue.cost("openai:gpt-4o-mini", Usage(1000, 100)))


def test_entry_point_kind_works_without_a_settings_table(make_hub, installed_plugin):
    reply = make_hub().session("s", model="acme-echo:mirror").send("live")
    assert (reply.content, reply.model) == ("evil", "acme-echo:mirror")
