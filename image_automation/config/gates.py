"""Gate settings as users write them: update windows, freezes, rollback release, signatures.

Native kinds carry them as fields (``spec.windows``, ``spec.freeze`` on both kinds;
``spec.rollback`` and ``spec.verify`` on ``TrackedImage``). Flux kinds keep Flux's schema,
so the same values live in annotations (``image-automation.io/windows``, ``.../freeze``,
``.../rollback-release``, ``.../verify``), each a YAML or JSON text checked by the same
models. Pure: no I/O. A leaf like ``config.models``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from image_automation.config.safe_yaml import load_one
from image_automation.domain import Release
from image_automation.errors import ConfigError
from image_automation.policy import CronExpr, Freeze, UpdateWindows, Window
from image_automation.policy._windows import MAX_DURATION, parse_clock, parse_days, zone

ANNOTATION_PREFIX = "image-automation.io/"
WINDOWS_ANNOTATION = ANNOTATION_PREFIX + "windows"
FREEZE_ANNOTATION = ANNOTATION_PREFIX + "freeze"
RELEASE_ANNOTATION = ANNOTATION_PREFIX + "rollback-release"
VERIFY_ANNOTATION = ANNOTATION_PREFIX + "verify"
MAX_ITEMS = 50
MAX_ANNOTATION_CHARS = 16_384


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )


class WindowSpec(_Model):
    """One update window: ``days`` + ``from``/``until`` (HH:MM), or ``cron`` + ``duration``."""

    days: Annotated[list[str], Field(max_length=14)] | None = None
    start: str | None = Field(default=None, alias="from")
    until: str | None = None
    cron: Annotated[str, Field(max_length=200)] | None = None
    duration: str | None = None
    time_zone: Annotated[str, Field(max_length=64)] = "UTC"

    @model_validator(mode="after")
    def _one_form(self) -> WindowSpec:
        self.window()  # every problem surfaces at load time, as a ValueError pydantic reports
        return self

    def window(self) -> Window:
        zone(self.time_zone)
        if self.cron is not None:
            if self.days is not None or self.start is not None or self.until is not None:
                raise ValueError("a window is either cron + duration or days + from/until")
            if self.duration is None:
                raise ValueError("a cron window needs a duration")
            return Window(
                self.time_zone, cron=CronExpr.parse(self.cron), duration=_duration(self.duration)
            )
        if self.duration is not None:
            raise ValueError("duration goes with cron; use from/until with days")
        start = parse_clock(self.start or "00:00") or None
        if start is None:
            raise ValueError("from must be before 24:00")
        days = parse_days(self.days) if self.days is not None else frozenset(range(7))
        end = parse_clock(self.until) if self.until is not None else None
        return Window(self.time_zone, days, start, end)


class FreezeSpec(_Model):
    """A freeze: nothing is written from ``from`` until ``until`` (RFC 3339, or a date or a
    time without an offset, read in ``timeZone``)."""

    start: datetime | date = Field(alias="from")
    until: datetime | date
    reason: Annotated[str, Field(max_length=200)] = ""
    time_zone: Annotated[str, Field(max_length=64)] = "UTC"

    @model_validator(mode="after")
    def _ordered(self) -> FreezeSpec:
        self.freeze()
        return self

    def freeze(self) -> Freeze:
        tz = zone(self.time_zone)
        return Freeze(_instant(self.start, tz), _instant(self.until, tz), self.reason)


class RollbackSpec(_Model):
    """How a hold on a human's rollback ends (docs/gates.md)."""

    release: Literal["untilNewer", "manual"] = "untilNewer"


class SecretName(_Model):
    name: Annotated[
        str, Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    ]


class VerifySpec(_Model):
    """Only tags whose digest carries a valid cosign signature by one of the public keys in
    the secret (every ``*.pub`` file of ``secrets-dir/<name>/``) qualify."""

    provider: Literal["cosign"] = "cosign"
    secret_ref: SecretName | None = None
    match_oidc_identity: list[dict[str, Any]] | None = None

    @model_validator(mode="after")
    def _key_based(self) -> VerifySpec:
        if self.match_oidc_identity is not None:
            raise ValueError(
                "keyless verification (matchOIDCIdentity) is not supported: use a public "
                "key in secretRef (docs/decisions.md)"
            )
        if self.secret_ref is None:
            raise ValueError("verify needs secretRef naming the public keys")
        return self


Windows = Annotated[list[WindowSpec], Field(max_length=MAX_ITEMS)]
Freezes = Annotated[list[FreezeSpec], Field(max_length=MAX_ITEMS)]


def update_windows(windows: Sequence[WindowSpec], freezes: Sequence[FreezeSpec]) -> UpdateWindows:
    return UpdateWindows(tuple(w.window() for w in windows), tuple(f.freeze() for f in freezes))


_WINDOWS = TypeAdapter(Windows)
_FREEZES = TypeAdapter(Freezes)
_VERIFY = TypeAdapter(VerifySpec)


class AnnotationProblem(ValueError):
    """A gate annotation that does not parse; ``key`` is the annotation."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def windows_from_annotations(annotations: Mapping[str, Any] | None) -> UpdateWindows:
    """``image-automation.io/windows`` and ``.../freeze`` of a Flux object."""
    windows = _annotation(annotations, WINDOWS_ANNOTATION, _WINDOWS) or []
    freezes = _annotation(annotations, FREEZE_ANNOTATION, _FREEZES) or []
    return update_windows(windows, freezes)


def release_from_annotations(annotations: Mapping[str, Any] | None) -> Release:
    value = (annotations or {}).get(RELEASE_ANNOTATION)
    if value is None:
        return "untilNewer"
    if value not in ("untilNewer", "manual"):
        raise AnnotationProblem(RELEASE_ANNOTATION, "must be untilNewer or manual")
    return "manual" if value == "manual" else "untilNewer"


def verify_from_annotations(annotations: Mapping[str, Any] | None) -> VerifySpec | None:
    spec: VerifySpec | None = _annotation(annotations, VERIFY_ANNOTATION, _VERIFY)
    return spec


def _annotation(annotations: Mapping[str, Any] | None, key: str, adapter: TypeAdapter[Any]) -> Any:
    value = (annotations or {}).get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_ANNOTATION_CHARS:
        raise AnnotationProblem(key, f"must be a YAML or JSON text of at most "
                                     f"{MAX_ANNOTATION_CHARS} characters")  # fmt: skip
    try:
        data = load_one(value, file=key)
        return adapter.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise AnnotationProblem(key, f"{where + ': ' if where else ''}{first['msg']}") from None
    except (ValueError, ConfigError) as exc:
        raise AnnotationProblem(key, str(exc)[:300]) from None


def _duration(text: str) -> timedelta:
    from image_automation.config.models import parse_duration  # models imports this module

    value = parse_duration(text)
    if not timedelta(0) < value <= MAX_DURATION:
        raise ValueError("duration must be above 0 and at most 31 days")
    return value


def _instant(value: datetime | date, tz: Any) -> datetime:
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(UTC)
