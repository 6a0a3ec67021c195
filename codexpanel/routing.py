"""Routes served by Channels consumers rather than Django views."""

from channels.auth import AuthMiddlewareStack
from django.urls import path

from devices.realtime.device_socket import DeviceSocketConsumer
from devices.realtime.streams import EventStreamConsumer

# Agents send no Origin and no cookies: the device token is their only identity (DEV-2).
device_websocket_urlpatterns = [path("device-wss", DeviceSocketConsumer.as_asgi())]
# Browsers: session cookie; the consumer checks Origin itself (DEV-5).
event_stream_urlpatterns = [path("events", AuthMiddlewareStack(EventStreamConsumer.as_asgi()))]
