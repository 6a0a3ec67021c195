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


def json_problem(value: Any, max_depth: int = MAX_JSON_DEPTH) -> tuple[str, str] | None:
    """(code, where) for the first NUL or lone surrogate in a key or string of parsed JSON,
    or for nesting deeper than max_depth; None when it is clean. `where` names the spot
    (events[2].payload.text)."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, str):
            if _UNSAFE_TEXT.search(item):
                return "invalid_text", where[:200] or "the body"
        elif isinstance(item, dict | list):
            if depth >= max_depth:
                return "too_deep", where[:200] or "the body"
            if isinstance(item, dict):
                for key, inner in item.items():
                    if _UNSAFE_TEXT.search(key):
                        return "invalid_text", f"{where}.{key!a}".lstrip(".")[:200]
                    stack.append((inner, f"{where}.{key}".lstrip("."), depth + 1))
            else:
                stack.extend((inner, f"{where}[{n}]", depth + 1) for n, inner in enumerate(item))
    return None


def might_hold_unsafe_text(text: str | bytes) -> bool:
    """False when JSON text cannot decode to a NUL or a lone surrogate (see json_problem)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return _UNSAFE_ESCAPE.search(text) is not None


def repaired(value: Any, max_depth: int = MAX_JSON_DEPTH, depth: int = 0) -> Any:
    """value with each NUL and lone surrogate replaced by U+FFFD and whatever nests deeper
    than max_depth replaced by "…": what the agent sends is always what the relay takes,
    however odd the output Codex reported."""
    if isinstance(value, str):
        return _UNSAFE_TEXT.sub("\ufffd", value) if _UNSAFE_TEXT.search(value) else value
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
