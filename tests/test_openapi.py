"""The HTTP API is described by an OpenAPI schema generated from the code, and no route
is left to a default access decision (SPEC §9)."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.views import APIView

from codexpanel import __version__
from codexpanel.access import ACCESS_ATTRIBUTE

pytestmark = pytest.mark.django_db

# The Django admin's views are gated by AdminSite.has_permission, i.e. the access_admin
# scope (tests/test_iam.py proves it).
ADMIN_NAMESPACE = "admin"


def routes(
    patterns=None, prefix: str = "", namespace: str = ""
) -> Iterator[tuple[str, str, object]]:
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(entry, URLResolver):
            yield from routes(
                entry.url_patterns, prefix + str(entry.pattern), entry.namespace or namespace
            )
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), namespace, entry.callback


def _declares(view_class: type, initkwargs: dict, name: str) -> bool:
    if name in initkwargs:
        return True
    return any(
        name in vars(klass)
        for klass in view_class.__mro__
        if issubclass(klass, APIView) and not klass.__module__.startswith("rest_framework")
    )


def undecided_routes(patterns=None) -> list[str]:
    missing = []
    for route, namespace, callback in routes(patterns):
        if namespace == ADMIN_NAMESPACE:
            continue
        view_class = getattr(callback, "cls", None)
        if view_class is not None and issubclass(view_class, APIView):
            initkwargs = getattr(callback, "initkwargs", {})
            for name in ("authentication_classes", "permission_classes"):
                if not _declares(view_class, initkwargs, name):
                    missing.append(f"{route}: {view_class.__name__} has no {name}")
        elif getattr(callback, ACCESS_ATTRIBUTE, None) is None:
            missing.append(
                f"{route}: {getattr(callback, '__name__', callback)} has no access decision"
            )
    return missing


def test_every_route_states_its_access_decision():
    assert undecided_routes() == []


def test_the_check_notices_a_route_without_a_decision():
    from django.urls import path

    def bare_view(request):
        raise AssertionError

    class BareApi(APIView):
        pass

    missing = undecided_routes([path("bare/", bare_view), path("bare-api/", BareApi.as_view())])
    assert any("bare_view" in line for line in missing)
    assert any("BareApi has no permission_classes" in line for line in missing)


def test_the_schema_is_served_and_describes_the_auth_api(client: Client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["info"]["version"] == __version__
    for route in (
        "status",
        "login",
        "logout",
        "register",
        "email-code/request",
        "email-code/verify",
    ):
        assert f"/api/iam/auth/{route}" in schema["paths"]
    login = schema["paths"]["/api/iam/auth/login"]["post"]
    assert {"200", "401", "429"} <= set(login["responses"])


def test_schema_generation_is_valid_and_free_of_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(out), stderr=io.StringIO()
    )
    assert "/api/iam/auth/login" in out.read_text()
