from .attachment import Attachment
from .command import Command
from .device import DEVICE_ID_VALIDATOR, TOKEN_PREFIX, Device, DeviceToken
from .event import Event, UserEventCounter
from .push import PUSH_KINDS, PushAction, PushSubscription, VapidKey

__all__ = [
    "DEVICE_ID_VALIDATOR",
    "PUSH_KINDS",
    "TOKEN_PREFIX",
    "Attachment",
    "Command",
    "Device",
    "DeviceToken",
    "Event",
    "PushAction",
    "PushSubscription",
    "UserEventCounter",
    "VapidKey",
]
