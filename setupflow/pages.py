"""The /desktop/setup page (SPEC SET-2, SET-3, SET-4, SET-6): plain forms, rendered on
the server, so it works on any phone browser with or without JavaScript. Every form
calls the same actions as the JSON API."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import login, logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_ratelimit.core import is_ratelimited

from accounts import actions as accounts_actions
from accounts import ratelimit as account_policies
from codexpanel.access import public
from codexpanel.errors import ActionError, rate_limited
from codexpanel.net import client_network

from . import actions
from .lookup import flow_for_browser
from .models import CODE_LENGTH, normalize_code
from .views import browser_payload

FLOW_ERRORS = {"invalid_code", "flow_not_found", "flow_denied"}
ACTIONS = {"signin", "register", "signout", "approve", "deny", "terminal_token"}


def _page_url(flow_id: str, code: str) -> str:
    return f"/desktop/setup?{urlencode({'flowId': flow_id, 'code': code})}"


def _register_limited(request: HttpRequest) -> bool:
    # The same per-address budget as the registration API, so the page is no way round it.
    return is_ratelimited(
        request,
        group="register_by_ip",
        key=lambda group, req: client_network(req),
        rate=account_policies.register_by_ip_rate,
        increment=True,
    )


def _run(request: HttpRequest, action: str, flow_id: str, code: str) -> dict[str, Any]:
    """Carry out one form's action; returns extra context for the page."""
    user = request.user
    post = request.POST
    if action == "signin":
        user = accounts_actions.authenticate_with_limits(
            request, post.get("username", "").strip(), post.get("password", "")
        )
        login(request, user, backend="accounts.backends.GroupScopeBackend")
    elif action == "register":
        if _register_limited(request):
            raise rate_limited()
        user = accounts_actions.register_user(
            username=post.get("username", ""),
            password=post.get("password", ""),
            email=post.get("email", ""),
        )
        login(request, user, backend="accounts.backends.GroupScopeBackend")
    elif action == "signout":
        logout(request)
    elif not user.is_authenticated:
        raise ActionError("not_authenticated", _("Sign in first."), 401)
    elif action == "approve":
        actions.approve_flow(user, flow_id, code, confirm_rebind=post.get("confirmRebind") == "yes")
    elif action == "deny":
        actions.deny_flow(user, flow_id, code)
    elif action == "terminal_token":
        token, ttl = actions.issue_terminal_token(user, flow_id, code)
        return {"terminal_token": token, "terminal_token_minutes": max(1, ttl // 60)}
    return {}


@public
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def setup_page(request: HttpRequest) -> HttpResponse:
    """Anyone may open it; what it shows and does depends on the flow's code and on who
    is signed in. Forms carry Django's CSRF token."""
    source = request.POST if request.method == "POST" else request.GET
    flow_id = source.get("flowId", "")[:40]
    code = normalize_code(source.get("code", ""))[:32]
    context: dict[str, Any] = {
        "flow_id": flow_id,
        "code": code,
        "registration_enabled": settings.CODEXPANEL_REGISTRATION_ENABLED,
    }
    status = 200
    if not flow_id or len(code) != CODE_LENGTH:
        context["missing_link"] = True
        return render(request, "setupflow/setup.html", context, status=400)
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action not in ACTIONS:
                raise ActionError("invalid_request", _("Unknown action."), 400)
            extra = _run(request, action, flow_id, code)
            if not extra:
                return HttpResponseRedirect(_page_url(flow_id, code))
            context.update(extra)
        except ActionError as error:
            status = error.status
            if error.code in FLOW_ERRORS:
                # Already counted against the flow; looking it up again would count twice.
                context["flow_error"] = error
                return render(request, "setupflow/setup.html", context, status=status)
            context["error"] = error
    try:
        flow = flow_for_browser(flow_id, code)
        context["flow"] = browser_payload(flow, code, request.user)
    except ActionError as error:
        context["flow_error"] = error
        status = max(status, error.status)
    return render(request, "setupflow/setup.html", context, status=status)
