"""The one place psycopg's errors become :class:`StateError`.

Every message names the database by :attr:`Target.description` (host, port, database, user)
and what the store was doing, on one line: libpq's messages span lines ("…Connection
refused\\n\\tIs the server running…"), and a log line or a CLI error should not. The
password is masked in every text we build, in case a server or a driver ever echoes it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import psycopg_pool

from image_automation.domain import mask_secrets
from image_automation.errors import StateError
from image_automation.state._codec import NulCharacter
from image_automation.state._postgres_dsn import Target

# Values PostgreSQL cannot hold: NUL in text, numbers beyond bigint, index rows too large.
_UNSTORABLE = (psycopg.DataError, psycopg.errors.ProgramLimitExceeded)


@contextmanager
def translated(target: Target, action: str) -> Iterator[None]:
    """Turn psycopg (and pool, and encoding) errors into StateError naming ``target``."""
    try:
        yield
    except psycopg_pool.PoolTimeout as exc:
        raise _error(
            target,
            action,
            f"no database connection free or reachable within "
            f"{target.settings.pool_timeout:g}s (pool_timeout): {_text(exc)}",
        ) from exc
    except _UNSTORABLE as exc:
        raise _error(target, action, f"value cannot be stored: {_text(exc)}") from exc
    except (OverflowError, UnicodeEncodeError, NulCharacter) as exc:
        raise _error(target, action, f"value cannot be stored: {exc}") from exc
    except psycopg.OperationalError as exc:
        # Also what a refused, timed-out or dropped connection raises.
        raise _error(target, action, _text(exc)) from exc
    except psycopg.Error as exc:
        raise _error(target, action, _text(exc)) from exc


def _error(target: Target, action: str, detail: str) -> StateError:
    return StateError(mask_secrets(f"{target.description}: {action}: {detail}", target.secrets))


def _text(exc: BaseException) -> str:
    """The error's message on one line (libpq indents its hint on a second)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return " ".join(lines) or type(exc).__name__
