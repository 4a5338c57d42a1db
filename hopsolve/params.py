"""Frozen parameter dataclasses: build them from ``key=value`` strings, reject unknown or invalid fields."""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

from hopsolve.errors import ParameterError

P = TypeVar("P")


def _described(annotation: Any) -> str:
    """One kind of value a parameter takes, in words (for a refusal that names every kind)."""
    if get_origin(annotation) is Literal:
        return ", ".join(map(str, get_args(annotation)))
    return {float: "a number", int: "a whole number", bool: "true or false", str: "text"}.get(
        annotation, getattr(annotation, "__name__", str(annotation)))


def _coerce(owner: str, name: str, annotation: Any, value: Any) -> Any:
    origin = get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = get_args(annotation)
        is_none = value is None or (isinstance(value, str) and value.lower() in ("none", "null", ""))
        if is_none and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(owner, name, option, value)
            except ParameterError as exc:
                errors.append(str(exc))
        kinds = [_described(option) for option in options if option is not type(None)]
        if len(kinds) > 1:  # the first kind's refusal alone ("not a valid float") hid the others (auto, none)
            kinds += ["none"] if type(None) in options else []
            raise ParameterError(f"{owner}: {name}={value!r} is not {', '.join(kinds[:-1])} or {kinds[-1]}")
        raise ParameterError(errors[0] if errors else f"{owner}: {name}={value!r} is invalid")
    if origin is Literal:
        choices = get_args(annotation)
        if value in choices:
            return value
        raise ParameterError(f"{owner}: {name}={value!r} is not one of {', '.join(map(str, choices))}")
    try:
        if annotation is bool:
            if isinstance(value, bool):
                return value
            text = str(value).lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if annotation is int:
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
            if not number.is_integer():
                raise ValueError
            return int(number)
        if annotation is float:
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
            if not math.isfinite(number):  # u0=inf reached numpy as an OverflowError; no parameter means inf
                raise ParameterError(f"{owner}: {name}={value!r} must be a finite number")
            return number
        if annotation is str:
            return str(value)
    except (TypeError, ValueError):
        kind = getattr(annotation, "__name__", str(annotation))
        raise ParameterError(f"{owner}: {name}={value!r} is not a valid {kind}") from None
    return value


GENERIC_OWNER = "backend"
"""The owner the shared run parameters (:class:`hopsolve.backend.RunParams`) name in their refusals, not knowing
their backend's name; :func:`build_params` puts the name in."""


def build_params(cls: type[P], values: Mapping[str, Any] | None = None, owner: str = "") -> P:
    """An instance of the dataclass ``cls`` from ``values`` (strings are converted to the field's type).

    Unknown keys are an error naming the key and listing the known ones; so is any value the type refuses, and
    whatever the class's own ``validate()`` rejects.
    """
    owner = owner or cls.__name__
    values = dict(values or {})
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ParameterError(
            f"{owner}: unknown parameter {unknown[0]!r}; known parameters: {', '.join(sorted(fields)) or 'none'}"
        )
    converted = {key: _coerce(owner, key, hints[key], value) for key, value in values.items()}
    params = cls(**converted)
    validate = getattr(params, "validate", None)
    if callable(validate):
        try:
            validate()
        except ParameterError as refused:  # the shared RunParams checks can only say "backend": name which one
            text = str(refused)
            if text.startswith(f"{GENERIC_OWNER}: ") and owner.startswith(GENERIC_OWNER):
                raise ParameterError(f"{owner}: {text[len(GENERIC_OWNER) + 2:]}") from None
            raise
    return params


def params_dict(params: Any) -> dict[str, Any]:
    """A JSON-able dict of a params dataclass."""
    return dataclasses.asdict(params) if dataclasses.is_dataclass(params) else dict(params or {})


def require(condition: bool, owner: str, message: str) -> None:
    """Raise a :class:`ParameterError` ``owner: message`` unless ``condition`` holds."""
    if not condition:
        raise ParameterError(f"{owner}: {message}")


def parse_assignments(pairs: Sequence[str] | None, what: str) -> dict[str, str]:
    """``["a=1", "b=x"]`` → ``{"a": "1", "b": "x"}``; anything without ``=``, and a key given twice with two
    values (which was meant?), is an error naming it. The same value twice is one value: a run's printed replay
    parameters may be pasted after a command that already gives some of them."""
    values: dict[str, str] = {}
    if isinstance(pairs, str):  # one pair given bare: its characters were read as pairs ("'a' must look like ...")
        pairs = [pairs]
    for pair in pairs or []:
        if not isinstance(pair, str):
            raise ParameterError(f"{what} {pair!r} must be text like key=value")
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ParameterError(f"{what} {pair!r} must look like key=value")
        set_once(values, key.strip(), value.strip(), what)
    return values


_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def same_value(first: Any, second: Any) -> bool:
    """Equal values, or two spellings of one plain decimal number (``100`` and ``1e2``, ``0.5`` and ``.50``)."""
    if first == second:
        return True
    return (isinstance(first, str) and isinstance(second, str) and bool(_PLAIN_NUMBER.fullmatch(first))
            and bool(_PLAIN_NUMBER.fullmatch(second)) and Decimal(first) == Decimal(second))  # exact: not floats


def set_once(values: dict[str, Any], key: str, value: Any, what: str, shown: str | None = None) -> None:
    """``values[key] = value``, unless ``key`` already has another value (two spellings of one number are one
    value, and the first is kept): then an error naming both (the key shown as ``shown``, default the key itself,
    after ``what``, the option that gave it)."""
    if key in values and not same_value(values[key], value):
        name = shown or key
        raise ParameterError(f"{what} {name} is given twice with two values ({name}={values[key]} and "
                             f"{name}={value}); give it once")
    values.setdefault(key, value)
