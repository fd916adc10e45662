"""``image_automation.manifests.__all__`` names exactly the public things it exports."""

from __future__ import annotations

import image_automation.manifests as manifests


def test_all_lists_existing_public_names_only() -> None:
    assert sorted(manifests.__all__) == sorted(set(manifests.__all__))
    for name in manifests.__all__:
        assert not name.startswith("_")
        assert hasattr(manifests, name), name


def test_every_public_import_is_listed_in_all() -> None:
    public = {
        name
        for name, value in vars(manifests).items()
        if not name.startswith("_")
        and getattr(value, "__module__", "").startswith(manifests.__name__)
    }
    assert public <= set(manifests.__all__)
