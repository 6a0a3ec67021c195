from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DevicesConfig(AppConfig):
    name = "devices"
    verbose_name = _("Devices")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.signals import user_logged_out
        from django.db.models.signals import post_save

        from accounts.signals import user_sessions_ended

        from .receivers import (
            close_revoked_device,
            close_user_connections,
            forget_push_of_disabled,
            forget_push_on_sign_out,
        )
        from .signals import device_access_revoked

        device_access_revoked.connect(close_revoked_device, dispatch_uid="devices.close_revoked")
        user_logged_out.connect(forget_push_on_sign_out, dispatch_uid="devices.push_sign_out")
        post_save.connect(
            forget_push_of_disabled, sender=get_user_model(), dispatch_uid="devices.push_disabled"
        )
        user_sessions_ended.connect(close_user_connections, dispatch_uid="devices.close_user")
