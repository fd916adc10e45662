"""The git package's __all__ names exactly its public members."""

import image_automation.git as package


def test_all_names_exist_and_public_names_are_listed() -> None:
    for name in package.__all__:
        assert hasattr(package, name), name
    public = {n for n in vars(package) if not n.startswith("_")}
    modules = {
        "messages",
        "flux_messages",
        "argocd_messages",
        "pull_requests",
        "promotions",
        "workspace",
    }
    assert public - modules == set(package.__all__)
