"""The committed descriptions stay what the fakes and the README say they are."""

from __future__ import annotations

import hashlib
import json
import re

import pytest
from openapi_spec_validator import validate

from tests.forges.fixtures import FAKES
from tests.forges.graphql_contract import SCHEMA_JSON, render
from tests.forges.specs import SPEC_FILES, SPECS_DIR, iter_operations, load_spec

OPS_FILES = {
    "github": "github/ops.txt",
    "gitea": "gitea/ops.txt",
    "forgejo": "forgejo/ops.txt",
    "bitbucket": "bitbucket-cloud/ops.txt",
    "azuredevops": "azure-devops/ops.txt",
}


def _listed(ops_file: str) -> set[tuple[str, str]]:
    listed = set()
    for line in (SPECS_DIR / ops_file).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            method, path = line.split()
            listed.add((method.upper(), path))
    return listed


@pytest.mark.parametrize("forge", sorted(OPS_FILES))
def test_each_slice_holds_exactly_the_operations_its_list_names(forge: str) -> None:
    doc = json.loads(SPEC_FILES[forge].read_text())
    kept = {(op["method"], op["path"]) for op in doc["x-slice"]["operations"]}
    assert kept == _listed(OPS_FILES[forge]) == set(iter_operations(load_spec(forge)))


@pytest.mark.parametrize("forge", sorted(FAKES))
def test_each_fake_serves_every_operation_of_its_description_and_no_other(forge: str) -> None:
    described = {f"{m} {p}" for m, p in iter_operations(load_spec(FAKES[forge].spec_name))}
    assert set(FAKES[forge].routes) == described
    for handler in FAKES[forge].routes.values():
        assert callable(getattr(FAKES[forge], handler))


@pytest.mark.parametrize("forge", sorted(SPEC_FILES))
def test_every_committed_description_is_a_valid_openapi_3_document(forge: str) -> None:
    doc = json.loads(SPEC_FILES[forge].read_text())
    assert doc["openapi"].startswith("3.")
    validate(doc)


def test_the_graphql_contract_json_is_the_rendering_of_its_sdl() -> None:
    assert SCHEMA_JSON.read_text() == render()


def test_the_vendored_slice_py_is_byte_identical_to_the_one_the_readme_names() -> None:
    readme = (SPECS_DIR / "README.md").read_text()
    recorded = re.search(r"\| `slice.py` \|[^\n]*?sha256 `([0-9a-f]{64})`", readme)
    assert recorded is not None
    assert hashlib.sha256((SPECS_DIR / "slice.py").read_bytes()).hexdigest() == recorded.group(1)
