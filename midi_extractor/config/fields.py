"""How a ``params.yaml`` section becomes a checked dataclass: every value is coerced by its field's
type (PyYAML follows YAML 1.1 and returns ``'3e-05'``, what ``dvc exp run -S stems.bass.lr=3e-5``
writes, as a string; here it becomes the float 3e-05), and every section checks itself when it is
built (:class:`Checked`), from a file (:func:`from_dict`), in code, or by :func:`replace`, its
errors naming the key (``params.yaml: stems.bass.lr must be > 0``)."""
from __future__ import annotations

import contextvars
import math
import dataclasses
import types
import typing
from typing import Any


class ConfigError(ValueError):
    """A params file with a missing, unknown or ill-typed value."""


#: where the section being built sits (``params.yaml: stems.bass``), set by :func:`from_dict` and
#: :func:`replace`; a section built in code names only its own keys
WHERE: contextvars.ContextVar[str] = contextvars.ContextVar("config_where", default="")


#: a setting the code decides (a threshold chosen on validation, a switch set by the data kind)
AUTO = "auto"


def is_auto(value: Any) -> bool:
    """``auto`` in any case, or null (an empty YAML value)."""
    return value is None or (isinstance(value, str) and value.strip().lower() == AUTO)


def auto_or_bool(value: Any, key: str) -> str | bool:
    """A three-way switch (``auto`` | ``true`` | ``false``): :data:`AUTO` or a bool. YAML's
    ``true``/``false`` arrive as bools, ``-S key=true`` as a string; anything else raises
    :class:`ConfigError` naming ``key``."""
    if is_auto(value):
        return AUTO
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if not isinstance(value, bool):
        raise ConfigError(f"{key} must be auto, true or false, got {value!r}")
    return value


def key_of(where: str, name: str) -> str:
    """``where`` joined to a key: ``params.yaml: `` + ``stems`` or ``stems.bass`` + ``lr``."""
    return f"{where}{name}" if not where or where.endswith(": ") else f"{where}.{name}"


class Checked:
    """A section that validates itself when it is built (from a file, in code or by
    :func:`replace`): ``check(where)`` raises :class:`ConfigError` naming the key."""

    def __post_init__(self) -> None:
        self.check(WHERE.get())

    def check(self, where: str) -> None:  # a section without rules
        pass


def replace(section: Any, where: str = "", **changes: Any) -> Any:
    """``dataclasses.replace`` with ``changes`` coerced by field type (as a params file's
    values are) and the result validated, errors naming ``where``."""
    values = {k: coerce(v, typing.get_type_hints(type(section))[k], key_of(where, k)) for k, v in changes.items()}
    token = WHERE.set(where)
    try:
        return dataclasses.replace(section, **values)
    finally:
        WHERE.reset(token)



def coerce(value: Any, annotation: Any, where: str) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return coerce(value, inner[0], where)
    if dataclasses.is_dataclass(annotation):
        return from_dict(annotation, value, where)
    if origin is dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return {k: coerce(v, args[1], key_of(where, k)) for k, v in value.items()}
    if origin is list:
        if value is not None and not isinstance(value, (list, tuple)):  # a string would become its characters
            raise ConfigError(f"{where}: expected a list, got {value!r} (write [{value}])")
        return [coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value or [])]
    if annotation is Any:
        return value
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
            return value.lower() in ("true", "1")
        if isinstance(value, (int, float)) and value in (0, 1):  # full_decode: 0 (the docs' spelling)
            return bool(value)
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if annotation in (int, float):
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
        if isinstance(value, bool) or not math.isfinite(number):  # true is not 1.0; nan/inf pass every > check
            raise ConfigError(f"{where}: expected a finite number, got {value!r}")
        if annotation is int:
            if number != int(number):
                raise ConfigError(f"{where}: expected an integer, got {value!r}")
            return int(number)
        return number
    if annotation is str:
        if value is None or isinstance(value, (dict, list)):  # null would become the text 'None'
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return str(value)
    return value


def from_dict(cls: type, data: dict | None, where: str = "params") -> Any:
    """Build dataclass ``cls`` from a mapping, coercing by field type; an unknown
    key is an error that names it."""
    data = data or {}
    at = where.rstrip(": ") or cls.__name__
    if not isinstance(data, dict):
        raise ConfigError(f"{at}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{at}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
    values = {k: coerce(v, hints[k], key_of(where, k)) for k, v in data.items()}
    token = WHERE.set(where)
    try:  # the section checks itself (``Checked``), naming ``where``
        return cls(**values)
    finally:
        WHERE.reset(token)


