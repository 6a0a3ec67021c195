from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DevicesConfig(AppConfig):
    name = "devices"
    verbose_name = _("Devices")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts.signals import user_sessions_ended

        from .receivers import close_revoked_device, close_user_connections
        from .signals import device_access_revoked

        device_access_revoked.connect(close_revoked_device, dispatch_uid="devices.close_revoked")
        user_sessions_ended.connect(close_user_connections, dispatch_uid="devices.close_user")
