"""Command-line flags made from config fields, so that a flag, its help line, its default and its
allowed range are written once, in the config (see core_gan.config.option).

Every number is checked where it enters: finite, and in the field's range; the error names the flag.
Flags are added with no argparse default, so the namespace holds only what the user typed, under
``GROUP.FIELD``; :func:`given` reads one group back as dataclass fields.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any

from core_gan.config import check_range, settable, unmet_need
from core_gan.errors import UserError


def flag_name(field: str) -> str:
    return "--" + field.replace("_", "-")


def _number(kind: type, field: dataclasses.Field) -> Callable[[str], Any]:
    """Parse ``kind`` and refuse NaN, infinity and values outside the field's range."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError as e:
            expected = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from e
        problem = check_range("the value", value, field)
        if problem:
            raise argparse.ArgumentTypeError(problem.removeprefix("the value "))
        return value

    parse.__name__ = kind.__name__
    return parse


def count(low: int, high: int | None = None) -> Callable[[str], int]:
    """An integer flag of at least ``low`` (a count, a size, a cadence), at most ``high`` when given."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from e
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"must be <= {high}, got {value}")
        return value

    parse.__name__ = "int"
    return parse


def finite(low: float | None = None, high: float | None = None, low_open: bool = False) -> Callable[[str], float]:
    """A finite number flag, in [low, high] (``low_open``: above low)."""
    spec = dataclasses.field(metadata={"low": low, "high": high, "low_open": low_open})
    return _number(float, spec)


def _base_type(hint: Any) -> Any:
    """``int | None`` -> int; other hints unchanged."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return args[0]
    return hint


def add_config_flags(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    group: str,
    defaults: Any,
    fields: Iterable[str] | None = None,
    choices: dict[str, Iterable[Any]] | None = None,
) -> None:
    """One flag per settable field of the dataclass instance ``defaults`` (restricted to ``fields``),
    showing the default from ``defaults``; ``choices`` adds a choice list to a string field."""
    hints = typing.get_type_hints(type(defaults))
    wanted = None if fields is None else set(fields)
    for field in settable(type(defaults)):
        if wanted is not None and field.name not in wanted:
            continue
        hint = _base_type(hints[field.name])
        default = getattr(defaults, field.name)
        kwargs: dict[str, Any] = {"dest": f"{group}.{field.name}", "default": argparse.SUPPRESS}
        help_text = field.metadata["help"]
        if hint is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
            help_text += f" (default: {'on' if default else 'off'})"
        else:
            if typing.get_origin(hint) is typing.Literal:
                kwargs["choices"] = typing.get_args(hint)
            elif choices and field.name in choices:
                kwargs.update(choices=tuple(choices[field.name]), type=hint)
            elif hint in (int, float):
                kwargs["type"] = _number(hint, field)
                kwargs["metavar"] = "N" if hint is int else "X"
            elif typing.get_origin(hint) is tuple:
                kwargs.update(type=finite(), nargs=len(typing.get_args(hint)), metavar="X")
            else:
                kwargs["metavar"] = field.name.upper()
            help_text += f" (default: {default})" if default is not None else ""
        parser.add_argument(flag_name(field.name), help=help_text, **kwargs)


def given(args: argparse.Namespace, group: str) -> dict[str, Any]:
    """The fields of ``group`` that the user set on the command line."""
    prefix = group + "."
    values = {k.removeprefix(prefix): v for k, v in vars(args).items() if k.startswith(prefix)}
    return {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}


def replace(defaults: Any, args: argparse.Namespace, group: str) -> Any:
    """``defaults`` with the user's flags of ``group`` applied; a flag that means nothing with the
    others (its field's ``needs``) is refused, naming what it needs."""
    values = given(args, group)
    config = dataclasses.replace(defaults, **values)
    refuse_unmet_needs(config, values)
    return config


def refuse_unmet_needs(config: Any, names: Iterable[str]) -> None:
    """Refuse the first of the fields ``names`` of ``config`` that means nothing with the others (its
    ``needs``), naming its flag and what it needs."""
    for name in names:
        need = unmet_need(config, name)
        if need is not None:
            other, _, value = need.partition(" ")
            raise UserError(f"{flag_name(name)}: only used with {flag_name(other)} {value}")
