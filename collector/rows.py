"""Rows of the collector's store read into the dataclasses that model them.

A store's table has a column for each field of its model; `reader(Model)` builds, once
per model, the function that turns a row (any mapping) into the model by the fields'
declared types: an enum from its value, a bool from SQLite's 0/1, a tuple from the JSON
array the column keeps, a NULL in a plain `int` field as 0. A field stored under another
column name is given in `columns` (the incident's `key` is the column `dedup_key`).
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import RowMapping

T = TypeVar("T")
Decode = Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


def _int_or_zero(value: Any) -> int:
    return int(value or 0)


def _json_tuple(value: Any) -> tuple[Any, ...]:
    return tuple(json.loads(value)) if value else ()


def _decoder(hint: Any) -> Decode:
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):  # int | None: as it is
        return _same
    if origin is tuple:
        return _json_tuple
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint
    if hint is bool:
        return bool
    if hint is int:
        return _int_or_zero
    return _same


def reader(model: type[T], columns: Mapping[str, str] | None = None) -> Callable[[RowMapping], T]:
    """A function from a row of `model`'s table to a `model` (see the module's docstring)."""
    hints = typing.get_type_hints(model)
    plan = [
        (f.name, (columns or {}).get(f.name, f.name), _decoder(hints[f.name]))
        for f in dataclasses.fields(model)  # type: ignore[arg-type]
    ]

    def read(row: RowMapping) -> T:
        return model(**{name: decode(row[column]) for name, column, decode in plan})

    return read


def inserted_id(result: sa.CursorResult[Any]) -> int:
    """The primary key an INSERT of one row gave it."""
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])
