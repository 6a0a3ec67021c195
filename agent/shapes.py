"""Declared shapes of JSON parameters (SPEC §7): each field's type, length, range and
allowed values, checked one field at a time so that a refusal names the field. Plain
Python: the relay checks a command's parameters with the same declaration the agent
runs it by (agent/protocol.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

NAMES = {str: "text", int: "a whole number", bool: "true or false", dict: "an object"}
NAMES[list] = "a list"


class ShapeError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field} {message}")
        self.field = field


@dataclass(frozen=True)
class Field:
    """kind: the JSON type(s) taken; max_length counts characters of text and items of a
    list; pattern, form and choices apply to text."""

    kind: type | tuple[type, ...]
    required: bool = False
    min_length: int = 0
    max_length: int | None = None
    pattern: re.Pattern[str] | None = None
    choices: tuple[Any, ...] | None = None
    minimum: int | None = None
    maximum: int | None = None
    form: str = "in the expected form"  # what text matching pattern is, in words

    def check(self, name: str, value: Any) -> None:
        kinds = self.kind if isinstance(self.kind, tuple) else (self.kind,)
        # JSON's true and false are not numbers, whatever Python's bool says.
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise ShapeError(name, "must be " + " or ".join(NAMES[kind] for kind in kinds))
        if self.choices is not None and value not in self.choices:
            raise ShapeError(name, "must be one of " + ", ".join(map(str, self.choices)))
        if isinstance(value, str | list):
            if len(value) < self.min_length:
                raise ShapeError(name, "must not be empty")
            if self.max_length is not None and len(value) > self.max_length:
                unit = "characters" if isinstance(value, str) else "items"
                raise ShapeError(name, f"must be at most {self.max_length} {unit}")
        if isinstance(value, str) and self.pattern and not self.pattern.fullmatch(value):
            raise ShapeError(name, f"must be {self.form}")
        outside = isinstance(value, int) and (
            (self.minimum is not None and value < self.minimum)
            or (self.maximum is not None and value > self.maximum)
        )
        if outside:
            raise ShapeError(name, f"must be between {self.minimum} and {self.maximum}")


Shape = dict[str, Field]


def check(values: dict[str, Any], shape: Shape) -> None:
    """Every field present is one the shape declares and fits it; every required one is
    there. A null counts as absent for a field that may be left out."""
    for name in values:
        if name not in shape:
            raise ShapeError(name, "is not a parameter here")
    for name, field in shape.items():
        value = values.get(name)
        if value is None:
            if field.required:
                raise ShapeError(name, "is required")
            continue
        field.check(name, value)
