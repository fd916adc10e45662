"""The fake-forge fixtures (see :mod:`tests.forges.fixtures`) for the self-tests here."""

from tests.forges.fixtures import fake_forge, fake_forge_factory

__all__ = ["fake_forge", "fake_forge_factory"]
