"""GitHub's auto-merge GraphQL contract: SDL (hand-written) -> introspection JSON (committed).

``python -m tests.forges.graphql_contract`` rewrites
``tests/fixtures/forge-specs/github/graphql-automerge.schema.json`` from the ``.graphql`` file
next to it (regen.sh runs it); a test checks the two agree. The fake loads the JSON.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

from graphql import GraphQLSchema, build_client_schema, build_schema, introspection_from_schema

from tests.forges.specs import SPECS_DIR

SDL = SPECS_DIR / "github" / "graphql-automerge.graphql"
SCHEMA_JSON = SPECS_DIR / "github" / "graphql-automerge.schema.json"


def render(sdl_path: Path = SDL) -> str:
    introspection = introspection_from_schema(build_schema(sdl_path.read_text(encoding="utf-8")))
    return json.dumps({"data": introspection}, indent=1, sort_keys=True) + "\n"


@functools.cache
def load_schema() -> GraphQLSchema:
    document = json.loads(SCHEMA_JSON.read_text(encoding="utf-8"))
    return build_client_schema(document["data"])


if __name__ == "__main__":
    SCHEMA_JSON.write_text(render(), encoding="utf-8")
    sys.stdout.write(f"wrote {SCHEMA_JSON}\n")
