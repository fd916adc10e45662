"""The public surface of image_automation.policy is exactly its __all__."""

import image_automation.policy as policy


def test_all_names_exist_and_are_public() -> None:
    for name in policy.__all__:
        assert hasattr(policy, name), name
        assert not name.startswith("_")


def test_every_public_attribute_is_listed_in_all() -> None:
    public = {
        name
        for name, value in vars(policy).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith(policy.__name__)
    }
    assert public == set(policy.__all__)


def test_all_is_sorted() -> None:
    assert list(policy.__all__) == sorted(policy.__all__)
