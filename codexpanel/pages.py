"""Site pages that belong to no single app (SPEC §8)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from agent.setup.install_commands import install_commands

from .access import public
from .net import relay_url


@public
@require_safe
def device_page(request: HttpRequest) -> HttpResponse:
    """DEV-8: the original product paired computers on /device.html; that page now tells
    its visitors to run the installer, which pairs through /desktop/setup."""
    return render(
        request, "codexpanel/device.html", {"commands": install_commands(relay_url(request))}
    )
