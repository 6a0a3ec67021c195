"""ASGI entry point: Django for HTTP, Channels consumers for WebSockets.

Serve with `daphne codexpanel.asgi:application` (or any ASGI server); run several
processes behind a load balancer with REDIS_URL set to scale out."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "codexpanel.settings")
# Django must be set up before anything imports models.
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import path  # noqa: E402

from .routing import browser_websocket_urlpatterns, device_websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter(
            [
                *device_websocket_urlpatterns,
                path(
                    "",
                    AllowedHostsOriginValidator(
                        AuthMiddlewareStack(URLRouter(browser_websocket_urlpatterns))
                    ),
                ),
            ]
        ),
    }
)
