"""Explicit access decisions for plain Django views.

DRF views state theirs with `authentication_classes` and `permission_classes`; every
other route wraps its view in one of these, so a test can prove no route was left to a
default (tests/test_openapi.py walks the URLconf).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

ACCESS_ATTRIBUTE = "access_decision"


def _marked(view: Callable[..., Any], decision: str) -> Callable[..., Any]:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return view(*args, **kwargs)

    setattr(wrapper, ACCESS_ATTRIBUTE, decision)
    return wrapper


def public(view: Callable[..., Any]) -> Callable[..., Any]:
    """Anyone may call this view; it reveals nothing private and changes nothing unsafe."""
    return _marked(view, "public")
