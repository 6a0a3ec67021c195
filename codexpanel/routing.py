"""WebSocket and long-lived HTTP routes served by Channels consumers."""

from django.urls import URLPattern

# Routes that must not go through AllowedHostsOriginValidator (agents send no Origin).
device_websocket_urlpatterns: list[URLPattern] = []
# Browser sockets: Origin-checked.
browser_websocket_urlpatterns: list[URLPattern] = []
