from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SetupflowConfig(AppConfig):
    name = "setupflow"
    verbose_name = _("Desktop setup")
    default_auto_field = "django.db.models.BigAutoField"
