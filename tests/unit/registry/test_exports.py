"""``__all__`` of the registry package is honest: every name exists, none is missing."""

import image_automation.registry as registry


def test_all_names_exist_and_public_names_are_exported() -> None:
    for name in registry.__all__:
        assert hasattr(registry, name), name
    assert sorted(registry.__all__) == sorted(set(registry.__all__))
    public = {
        n
        for n, v in vars(registry).items()
        if not n.startswith("_") and not getattr(v, "__name__", "").startswith("image_automation.")
    }
    assert public <= set(registry.__all__)
