"""The forges package: honest __all__, lazy implementations, every table entry real."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

import image_automation.forges as package
from image_automation.errors import ForgeError
from image_automation.forges import FORGES, Forge, ForgeSettings, open_forge
from tests.unit.forges.mockforge import FakeClock


def test_all_names_exist_and_public_names_are_listed() -> None:
    for name in package.__all__:
        assert hasattr(package, name), name
    public = {
        name
        for name, value in vars(package).items()
        if not name.startswith("_") and not inspect.ismodule(value)  # submodules
    }
    assert public - {"annotations"} == set(package.__all__)


def test_importing_the_package_loads_no_implementation() -> None:
    code = (
        "import sys, image_automation.forges\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('image_automation.forges.')"
        " and m.split('.')[-1] not in ('base', '_auth', '_http', '_limits', '_detect'))\n"
        "print(loaded, 'jwt' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] False"


@pytest.mark.parametrize("provider", sorted(FORGES))
async def test_each_provider_opens_its_class_by_name(provider: str) -> None:
    repository = "org/proj/_git/fleet" if provider == "azuredevops" else "org/fleet"
    settings = ForgeSettings(provider, "https://forge.test/api", repository, token="t")
    forge = open_forge(settings, clock=FakeClock())
    try:
        module, _, attr = FORGES[provider].partition(":")
        assert type(forge).__module__ == module and type(forge).__name__ == attr
        for name, member in inspect.getmembers(Forge):
            if not name.startswith("_"):
                assert hasattr(forge, name), f"{provider} lacks {name}"
                if inspect.iscoroutinefunction(member):
                    assert inspect.iscoroutinefunction(getattr(forge, name)), name
    finally:
        await forge.aclose()


def test_an_unknown_provider_is_refused() -> None:
    with pytest.raises(ForgeError, match="known: github"):
        open_forge(ForgeSettings("svn", "https://x", "o/r"))


def test_gitea_and_forgejo_share_one_class_with_a_flavour() -> None:
    assert FORGES["gitea"] == FORGES["forgejo"]
