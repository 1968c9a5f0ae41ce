"""A small filter language (seed 002) over allow-listed fields, turned into a Django Q.

{"col": "v"}                     col = 'v'
{"col": ["a", "b"]}              col IN ('a', 'b')
{"col": {"not": "v"}}            col != 'v'
{"col": {"gt": 1, "le": 9}}      col > 1 AND col <= 9   (also ge, lt, eq, in)
{"col": {"like": "%abc%"}}       col LIKE '%abc%'
{"a": 1, "b": 2}                 AND within an object
[{"a": 1}, {"b": 2}]             OR across a list
"""

import re
from collections.abc import Mapping
from typing import Any

from django.db.models import Q

COMPARISONS = {"eq": "exact", "gt": "gt", "ge": "gte", "lt": "lt", "le": "lte", "in": "in"}
OPERATORS = sorted([*COMPARISONS, "not", "like"])


class ConditionError(ValueError):
    """A filter the dataset does not allow; the message names the culprit."""


def to_q(conditions: Any, fields: Mapping[str, str]) -> Q:
    """`fields` maps the names a request may use to ORM paths; nothing else gets through."""
    if conditions is None or conditions == {}:
        return Q()
    if isinstance(conditions, list):
        if not conditions:
            raise ConditionError("An OR list of conditions must not be empty.")
        q = Q()
        for branch in conditions:
            if not isinstance(branch, dict):
                raise ConditionError("Each item of an OR list must be an object.")
            q |= _and(branch, fields)
        return q
    if isinstance(conditions, dict):
        return _and(conditions, fields)
    raise ConditionError("Conditions must be an object or a list of objects.")


def _and(conditions: dict[str, Any], fields: Mapping[str, str]) -> Q:
    q = Q()
    for name, value in conditions.items():
        if name not in fields:
            allowed = ", ".join(sorted(fields)) or "none"
            raise ConditionError(f"Unknown filter field {name!r}; allowed: {allowed}.")
        q &= _field(fields[name], name, value)
    return q


def _field(path: str, name: str, value: Any) -> Q:
    if isinstance(value, list):
        return Q(**{f"{path}__in": value})
    if not isinstance(value, dict):
        return Q(**{f"{path}__isnull": True}) if value is None else Q(**{path: value})
    if not value:
        raise ConditionError(f"Filter {name!r} has an empty set of operators.")
    q = Q()
    for op, operand in value.items():
        if op in COMPARISONS:
            if op == "in" and not isinstance(operand, list):
                raise ConditionError(f"Filter {name!r}: 'in' needs a list.")
            q &= Q(**{f"{path}__{COMPARISONS[op]}": operand})
        elif op == "not":
            q &= ~_field(path, name, operand)
        elif op == "like":
            q &= _like(path, name, operand)
        else:
            raise ConditionError(
                f"Unknown operator {op!r} on filter {name!r}; allowed: {', '.join(OPERATORS)}."
            )
    return q


def _like(path: str, name: str, pattern: Any) -> Q:
    if not isinstance(pattern, str):
        raise ConditionError(f"Filter {name!r}: 'like' needs a string pattern.")
    inner = pattern.strip("%")
    if "%" not in inner and "_" not in inner:
        starts, ends = pattern.startswith("%"), pattern.endswith("%")
        lookup = {
            (True, True): "contains",
            (False, True): "startswith",
            (True, False): "endswith",
            (False, False): "exact",
        }[(starts, ends)]
        return Q(**{f"{path}__{lookup}": inner})
    regex = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    return Q(**{f"{path}__regex": f"^{regex}$"})
