from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from django.views.i18n import set_language
from drf_spectacular.views import SpectacularAPIView
from rest_framework.permissions import AllowAny

from setupflow.pages import setup_page
from setupflow.urls import iam_urlpatterns as setup_iam_urlpatterns

from . import __version__, console, errors, pages, retired
from .access import public

settings.SPECTACULAR_SETTINGS["VERSION"] = __version__

urlpatterns = [
    *retired.urlpatterns,
    path("api/iam/", include("accounts.urls")),
    path("api/iam/desktop/setup/", include((setup_iam_urlpatterns, "setup-iam"))),
    path("api/desktop/setup/", include("setupflow.urls")),
    path("", include("wallet.urls")),
    path("", include("devices.urls")),
    path("desktop/setup", setup_page, name="desktop-setup"),
    path("device.html", pages.device_page, name="device-page"),
    path("project.html", console.project_page, name="project-page"),
    path("console/", console.console_page, name="console"),
    path("console/manifest.webmanifest", console.manifest, name="console-manifest"),
    path("console/sw.js", console.service_worker, name="console-service-worker"),
    path("console/i18n.js", console.translations, name="javascript-catalog"),
    path("", console.root, name="home"),
    path(
        "api/schema/",
        SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[AllowAny]),
        name="openapi-schema",
    ),
    path("admin/", admin.site.urls),
    path("i18n/setlang/", public(set_language), name="set_language"),
    re_path(r"^api/", csrf_exempt(public(errors.api_not_found))),
]

handler400 = "codexpanel.errors.bad_request"
handler404 = "codexpanel.errors.not_found"
handler500 = "codexpanel.errors.server_error"
