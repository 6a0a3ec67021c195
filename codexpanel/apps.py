from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class CodexpanelConfig(AppConfig):
    default = True
    name = "codexpanel"
    verbose_name = "codexpanel relay"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the deploy checks)


class CodexpanelAdminConfig(admin_apps.AdminConfig):
    """Django admin with the relay's own site: sign-in under the login policies."""

    default = False
    default_site = "codexpanel.admin.CodexpanelAdminSite"
