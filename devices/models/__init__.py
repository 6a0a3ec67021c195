from .attachment import Attachment
from .command import Command
from .device import DEVICE_ID_VALIDATOR, TOKEN_PREFIX, Device, DeviceToken
from .event import Event, UserEventCounter

__all__ = [
    "DEVICE_ID_VALIDATOR",
    "TOKEN_PREFIX",
    "Attachment",
    "Command",
    "Device",
    "DeviceToken",
    "Event",
    "UserEventCounter",
]
