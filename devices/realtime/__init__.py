"""The relay's realtime core (SPEC DEV-2 … DEV-5, §9): the device socket, the browsers'
event stream, the event log, the command gateway, presence and the background sweep.

The device registry itself (models, access, admin, the actions people take on devices)
stays in `devices`; this package is what keeps devices and browsers connected."""
