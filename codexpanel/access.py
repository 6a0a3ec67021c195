"""Explicit access decisions for plain Django views.

DRF views state theirs with `authentication_classes` and `permission_classes`; every
other route wraps its view in one of these, so a test can prove no route was left to a
default (tests/test_openapi.py walks the URLconf).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from inspect import iscoroutinefunction
from typing import Any

ACCESS_ATTRIBUTE = "access_decision"


def _marked(view: Callable[..., Any], decision: str) -> Callable[..., Any]:
    if iscoroutinefunction(view):

        @wraps(view)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            return await view(*args, **kwargs)

        setattr(async_wrapper, ACCESS_ATTRIBUTE, decision)
        return async_wrapper

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return view(*args, **kwargs)

    setattr(wrapper, ACCESS_ATTRIBUTE, decision)
    return wrapper


def public(view: Callable[..., Any]) -> Callable[..., Any]:
    """Anyone may call this view; it reveals nothing private and changes nothing unsafe."""
    return _marked(view, "public")


def session_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """A plain (usually async) view that checks the signed-in session itself and answers
    401 to anonymous callers."""
    return _marked(view, "session")
