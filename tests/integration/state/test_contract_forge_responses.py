"""The StateStore contract, forge-response side, on every backend: ETags and bodies kept for
conditional requests, per scope, bounded, hostile values refused or kept verbatim."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from image_automation.errors import StateError
from image_automation.state import ForgeResponse, StateStore
from image_automation.state.base import (
    FORGE_RESPONSE_MAX_BYTES,
    FORGE_RESPONSE_MAX_KEY,
    FORGE_RESPONSES_KEPT,
)
from tests.integration.state.conftest import Backend

pytestmark = pytest.mark.integration

SCOPE = "github https://api.github.com org/fleet"
OTHER = "gitlab https://gitlab.example/api/v4 group/fleet"
KEY = "/repos/org/fleet/pulls/7"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


async def test_a_kept_response_reads_back_byte_for_byte(store: StateStore) -> None:
    body = b'{"title": "caf\xc3\xa9"}\x00\xff\n' * 3  # any bytes: NUL, not UTF-8
    await store.save_forge_response(SCOPE, KEY, etag='W/"abc"', body=body, now=T0)
    assert await store.forge_response(SCOPE, KEY) == ForgeResponse(SCOPE, KEY, 'W/"abc"', body, T0)
    assert await store.forge_response(SCOPE, KEY + "?page=2") is None
    assert await store.forge_response(OTHER, KEY) is None  # scopes never share an answer


async def test_saving_again_replaces_the_etag_and_body(store: StateStore) -> None:
    await store.save_forge_response(SCOPE, KEY, etag='"1"', body=b"old", now=at(0))
    await store.save_forge_response(OTHER, KEY, etag='"x"', body=b"other", now=at(1))
    await store.save_forge_response(SCOPE, KEY, etag='"2"', body=b"new", now=at(2))
    assert await store.forge_response(SCOPE, KEY) == ForgeResponse(SCOPE, KEY, '"2"', b"new", at(2))
    assert await store.forge_response(OTHER, KEY) == ForgeResponse(
        OTHER, KEY, '"x"', b"other", at(1)
    )


async def test_a_scope_keeps_only_the_most_recently_saved_responses(store: StateStore) -> None:
    extra = 5
    await store.save_forge_response(OTHER, KEY, etag='"o"', body=b"o", now=at(0))
    for n in range(FORGE_RESPONSES_KEPT + extra):
        await store.save_forge_response(SCOPE, f"/k/{n}", etag=f'"{n}"', body=b"b", now=at(n))
    # The first five were saved least recently: gone. Saving one again makes it the newest.
    for n in range(extra):
        assert await store.forge_response(SCOPE, f"/k/{n}") is None, n
    for n in (extra, FORGE_RESPONSES_KEPT + extra - 1):
        kept = await store.forge_response(SCOPE, f"/k/{n}")
        assert kept is not None and kept.etag == f'"{n}"'
    assert await store.forge_response(OTHER, KEY) is not None  # another scope is not trimmed
    await store.save_forge_response(SCOPE, f"/k/{extra}", etag='"again"', body=b"", now=at(999))
    await store.save_forge_response(SCOPE, "/k/new", etag='"new"', body=b"", now=at(1000))
    assert await store.forge_response(SCOPE, f"/k/{extra}") is not None
    assert await store.forge_response(SCOPE, f"/k/{extra + 1}") is None


@pytest.mark.parametrize(
    ("scope", "key", "etag", "size"),
    [
        pytest.param(SCOPE, KEY, '"big"', FORGE_RESPONSE_MAX_BYTES + 1, id="body-too-big"),
        pytest.param(SCOPE, "/" + "k" * FORGE_RESPONSE_MAX_KEY, '"e"', 1, id="key-too-long"),
        pytest.param("s" * (FORGE_RESPONSE_MAX_KEY + 1), KEY, '"e"', 1, id="scope-too-long"),
        pytest.param(SCOPE, KEY, '"' + "e" * FORGE_RESPONSE_MAX_KEY + '"', 1, id="etag-too-long"),
        pytest.param(SCOPE, KEY, "", 1, id="no-etag"),
    ],
)
async def test_a_response_out_of_bounds_is_not_kept_and_drops_the_older_one(
    store: StateStore, scope: str, key: str, etag: str, size: int
) -> None:
    await store.save_forge_response(scope, key, etag='"old"', body=b"old", now=at(0))
    await store.save_forge_response(scope, key, etag=etag, body=b"x" * size, now=at(1))
    assert await store.forge_response(scope, key) is None


async def test_keys_that_look_like_sql_are_kept_verbatim(store: StateStore) -> None:
    key = "/repos/o/r/pulls?head=o:x'); DROP TABLE forge_responses; --&q=%00%27"
    await store.save_forge_response(SCOPE, key, etag='"\'"', body=b"'", now=T0)
    kept = await store.forge_response(SCOPE, key)
    assert kept is not None and (kept.key, kept.etag, kept.body) == (key, '"\'"', b"'")


async def test_a_nul_character_in_a_key_is_refused_with_a_state_error(store: StateStore) -> None:
    with pytest.raises(StateError):
        await store.save_forge_response(SCOPE, "/a\x00b", etag='"e"', body=b"", now=T0)
    assert await store.forge_response(SCOPE, "/a") is None


async def test_kept_responses_survive_reopening_at_the_latest_schema(backend: Backend) -> None:
    async with await backend.open() as first:
        await first.save_forge_response(SCOPE, KEY, etag='"1"', body=b"{}", now=T0)
    async with await backend.open() as second:
        assert await second.forge_response(SCOPE, KEY) == ForgeResponse(
            SCOPE, KEY, '"1"', b"{}", T0
        )
    assert backend.schema_version() == backend.latest
    assert backend.integrity_problems() == []
