from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.i18n import set_language
from drf_spectacular.views import SpectacularAPIView
from rest_framework.permissions import AllowAny

from . import __version__, retired
from .access import public

settings.SPECTACULAR_SETTINGS["VERSION"] = __version__

urlpatterns = [
    *retired.urlpatterns,
    path("api/iam/", include("accounts.urls")),
    path(
        "api/schema/",
        SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[AllowAny]),
        name="openapi-schema",
    ),
    path("admin/", admin.site.urls),
    path("i18n/setlang/", public(set_language), name="set_language"),
]

handler404 = "codexpanel.errors.not_found"
handler500 = "codexpanel.errors.server_error"
