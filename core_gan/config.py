"""Frozen dataclass configs: to and from JSON, and the fields a user may set.

A field declared with :func:`option` is a setting a user may change (the CLI turns it into a flag
with its help line and range); a plain field is derived from the data (channels, class count) or
fixed by the method.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, TypeVar

T = TypeVar("T")


NONZERO = "nonzero"
"""For :func:`option`'s ``needs``: the other field must be non-zero (a loss weight that turns a term on)."""


def option(default: Any, help: str, *, low: float | None = None, high: float | None = None,
           low_open: bool = False, needs: tuple[str, Any] | None = None) -> Any:  # fmt: skip
    """A user-settable dataclass field: its help line and, for numbers, the closed range [low, high]
    it must lie in (``low_open``: low itself is excluded, e.g. a learning rate > 0). ``needs``: (other
    field, value): the setting means something only when the other field has that value (or, with
    NONZERO, is non-zero); setting it otherwise is refused, as an unused flag is."""
    metadata = {"help": help, "low": low, "high": high, "low_open": low_open, "needs": needs}
    return dataclasses.field(default=default, metadata=metadata)


def unmet_need(config: Any, name: str) -> str | None:
    """Why setting field ``name`` of ``config`` means nothing (None when it does): its ``needs``."""
    field = next(f for f in dataclasses.fields(config) if f.name == name)
    needs = field.metadata.get("needs")
    if needs is None:
        return None
    other, value = needs
    actual = getattr(config, other)
    if value == NONZERO:
        return None if actual else f"{other} > 0"
    return None if actual == value else f"{other} {value}"


def settable(cls: type) -> list[dataclasses.Field]:
    """The fields of ``cls`` declared with :func:`option`."""
    return [f for f in dataclasses.fields(cls) if "help" in f.metadata]


def check_range(name: str, value: float, field: dataclasses.Field) -> str | None:
    """Why ``value`` is not allowed for ``field`` (None when it is): NaN, infinity or out of range."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value):
        return f"{name} must be a finite number, got {value}"
    low, high, low_open = field.metadata.get("low"), field.metadata.get("high"), field.metadata.get("low_open")
    if low is not None and (value < low or (low_open and value == low)):
        return f"{name} must be {'>' if low_open else '>='} {low:g}, got {value:g}"
    if high is not None and value > high:
        return f"{name} must be <= {high:g}, got {value:g}"
    return None


def config_from_dict(cls: type[T], values: dict[str, Any]) -> T:
    """Rebuild a frozen dataclass from its ``asdict`` form (JSON lists back to tuples)."""
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(values) - set(fields)
    if unknown:
        raise ValueError(f"{cls.__name__} has no field(s) {sorted(unknown)}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})
