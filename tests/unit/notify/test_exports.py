"""The notify package keeps its __all__ honest, and the event model's module too."""

from __future__ import annotations

import inspect
from types import ModuleType

import pytest

import image_automation.domain.events as events
import image_automation.engine.eventing as eventing
import image_automation.notify as package


@pytest.mark.parametrize("module", [package, events, eventing], ids=lambda m: m.__name__)
def test_all_names_exist_and_public_names_are_listed(module: ModuleType) -> None:
    for name in module.__all__:
        assert hasattr(module, name), name
    if module is package:
        public = {
            name
            for name, value in vars(module).items()
            if not name.startswith("_") and not inspect.ismodule(value)
        }
        assert public - {"annotations"} == set(module.__all__)


def test_notify_lists_every_provider_type_it_can_build() -> None:
    from image_automation.config.notifications import DELIVERED_TYPES
    from image_automation.notify.payloads import BUILDERS

    assert set(BUILDERS) == set(package.PROVIDER_TYPES) == set(DELIVERED_TYPES)
