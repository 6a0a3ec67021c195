"""JSON from outside, kept to what every store takes alike (SPEC §7): no NUL (PostgreSQL
text refuses it), no lone surrogate (UTF-8 cannot encode one; half an emoji from a
JavaScript string decodes to one) and no absurd nesting. The relay refuses such input;
the agent repairs what Codex reports before sending it. Plain Python, used by both."""

from __future__ import annotations

import re
from typing import Any

# How deep JSON from outside may nest (API bodies, command params, agent frames): deeper
# than anything the relay, the agent or Codex sends, far below Python's recursion limit.
MAX_JSON_DEPTH = 64
_UNSAFE_TEXT = re.compile("[\x00\ud800-\udfff]")
# Only a \u escape can bring either into parsed JSON: the raw text is valid UTF-8, and
# a raw NUL is not valid JSON. Text without one needs no scan for them.
_UNSAFE_ESCAPE = re.compile(r"\\u(?:0000|[dD][89abcdefABCDEF])")


# A spot in parsed JSON, kept as (parent spot, key or index) and spelled out only when a
# problem is found: building every path up front costs memory in proportion to the square
# of a hostile body's size.
Spot = tuple[Any, Any] | None


def _spelled(spot: Spot) -> str:
    parts: list[str] = []
    while spot is not None:
        spot, step = spot
        parts.append(f"[{step}]" if isinstance(step, int) else f".{step[:100]}")
    return "".join(reversed(parts)).lstrip(".")[:200] or "the body"


def _finite(value: float) -> bool:
    return value == value and value not in (float("inf"), float("-inf"))


def finite_float(text: str) -> float:
    """json.loads's parse_float: a number too large for a float (1e400) is refused, as
    NaN and Infinity are by not_a_constant; nothing downstream stores either."""
    value = float(text)
    if not _finite(value):
        raise ValueError(f"{text[:20]} is too large a number")
    return value


def not_a_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def json_problem(value: Any, max_depth: int = MAX_JSON_DEPTH) -> tuple[str, str] | None:
    """(code, where) for the first NUL or lone surrogate in a key or string of parsed JSON,
    a number that is not finite (NaN, Infinity, 1e400), or nesting deeper than max_depth;
    None when it is clean. `where` names the spot (events[2].payload.text)."""
    stack: list[tuple[Any, Spot, int]] = [(value, None, 0)]
    while stack:
        item, spot, depth = stack.pop()
        if isinstance(item, str):
            if _UNSAFE_TEXT.search(item):
                return "invalid_text", _spelled(spot)
        elif isinstance(item, float):
            if not _finite(item):
                return "invalid_number", _spelled(spot)
        elif isinstance(item, dict | list):
            if depth >= max_depth:
                return "too_deep", _spelled(spot)
            if isinstance(item, dict):
                for key, inner in item.items():
                    if _UNSAFE_TEXT.search(key):
                        return "invalid_text", _spelled((spot, ascii(key)))
                    stack.append((inner, (spot, key), depth + 1))
            else:
                stack.extend((inner, (spot, n), depth + 1) for n, inner in enumerate(item))
    return None


def might_hold_unsafe_text(text: str | bytes) -> bool:
    """False when JSON text cannot decode to a NUL or a lone surrogate (see json_problem)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return _UNSAFE_ESCAPE.search(text) is not None


def repaired(value: Any, max_depth: int = MAX_JSON_DEPTH, depth: int = 0) -> Any:
    """value with each NUL and lone surrogate replaced by U+FFFD, each number that is not
    finite by null, and whatever nests deeper than max_depth by "…": what the agent sends
    is always what the relay takes, however odd the output Codex reported."""
    if isinstance(value, str):
        return _UNSAFE_TEXT.sub("\ufffd", value) if _UNSAFE_TEXT.search(value) else value
    if isinstance(value, float) and not _finite(value):
        return None
    if isinstance(value, dict | list) and depth >= max_depth:
        return "…"
    if isinstance(value, list):
        return [repaired(item, max_depth, depth + 1) for item in value]
    if isinstance(value, dict):
        return {
            repaired(key, max_depth, depth + 1): repaired(item, max_depth, depth + 1)
            for key, item in value.items()
        }
    return value


def brackets(text: str | bytes) -> int:
    """An upper bound of how deep JSON text nests."""
    if isinstance(text, bytes):
        return text.count(b"[") + text.count(b"{")
    return text.count("[") + text.count("{")
