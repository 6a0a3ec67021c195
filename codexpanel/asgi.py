"""ASGI entry point: Django for HTTP, Channels consumers for the device socket and the
browsers' event stream.

Serve with `daphne codexpanel.asgi:application` (or any ASGI server); run several
processes behind a load balancer with REDIS_URL set to scale out."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "codexpanel.settings")
# Django must be set up before anything imports models.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import re_path  # noqa: E402

from .asgi_guard import ContainFailures  # noqa: E402
from .routing import device_websocket_urlpatterns, event_stream_urlpatterns  # noqa: E402

router = ProtocolTypeRouter(
    {
        "http": URLRouter(
            [
                *event_stream_urlpatterns,
                re_path(r"", django_asgi_app),
            ]
        ),
        "websocket": URLRouter(device_websocket_urlpatterns),
    }
)

# Whatever escapes a consumer or Django ends its own connection, never the process.
application = ContainFailures(router)
