"""Frozen dataclass configs to and from JSON."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")


def config_from_dict(cls: type[T], values: dict[str, Any]) -> T:
    """Rebuild a frozen dataclass from its ``asdict`` form (JSON lists back to tuples)."""
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(values) - set(fields)
    if unknown:
        raise ValueError(f"{cls.__name__} has no field(s) {sorted(unknown)}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})
