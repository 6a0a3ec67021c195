"""The console's page, its PWA pieces and the site pages (SPEC §6, §8), as the relay serves
them. What the console does in a browser is tested in tests/test_console_browser.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from codexpanel.console import SHELL_FILES

pytestmark = pytest.mark.django_db


def test_the_site_root_opens_the_console(client):
    answer = client.get("/")
    assert answer.status_code == 302 and answer["Location"] == "/console/"


def test_the_console_page_carries_its_install_commands_and_links_its_manifest(client):
    answer = client.get("/console/")
    assert answer.status_code == 200
    page = answer.content.decode()
    config = json.loads(re.search(r'id="console-config"[^>]*>(.*?)</script>', page).group(1))
    assert "http://testserver/agent/install.sh" in config["installCommands"]["unix"]
    assert '<link rel="manifest" href="/console/manifest.webmanifest">' in page
    assert 'type="module" src="/static/console/app.js"' in page


def test_the_manifest_makes_the_console_installable(client):
    answer = client.get("/console/manifest.webmanifest")
    assert answer["Content-Type"] == "application/manifest+json"
    manifest = answer.json()
    assert manifest["start_url"] == manifest["scope"] == "/console/"
    assert manifest["display"] == "standalone"
    sizes = {icon["sizes"] for icon in manifest["icons"] if icon["type"] == "image/png"}
    assert {"192x192", "512x512"} <= sizes
    assert [icon["purpose"] for icon in manifest["icons"] if "purpose" in icon] == ["maskable"]
    assert [shot["form_factor"] for shot in manifest["screenshots"]] == ["narrow"]


def test_every_manifest_image_is_served_at_its_stated_size(client):
    from django.contrib.staticfiles import finders

    manifest = client.get("/console/manifest.webmanifest").json()
    for image in manifest["icons"] + manifest["screenshots"]:
        if image["type"] != "image/png":
            continue
        found = finders.find(image["src"].removeprefix("/static/"))
        header = Path(found).read_bytes()[:24]
        width, height = int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")
        assert image["sizes"] == f"{width}x{height}", image


def test_the_console_has_a_theme_colour_for_light_and_for_dark(client):
    page = client.get("/console/").content.decode()
    colours = re.findall(
        r'<meta name="theme-color" content="(#[0-9a-f]{6})" media="([^"]+)">', page
    )
    assert [media for _colour, media in colours] == [
        "(prefers-color-scheme: light)",
        "(prefers-color-scheme: dark)",
    ]


def test_the_service_worker_keeps_the_shell_and_never_the_api(client):
    answer = client.get("/console/sw.js")
    assert answer["Content-Type"].startswith("text/javascript")
    assert "no-cache" in answer["Cache-Control"]
    script = answer.content.decode()
    shell = json.loads(re.search(r"const SHELL = (\[.*?\]);", script).group(1))
    assert shell[:3] == ["/console/", "/console/manifest.webmanifest", "/console/i18n.js"]
    assert shell[3:] == [f"/static/{name}" for name in SHELL_FILES]
    assert not [url for url in shell if url.startswith(("/api/", "/events"))]
    assert re.search(r'const CACHE = "codexpanel-shell-[0-9a-f]{16}";', script)


def test_every_console_script_and_style_is_part_of_the_offline_shell():
    # A module left out is missing when the installed console starts offline.
    static = Path(__file__).resolve().parent.parent / "static"
    shipped = {
        str(path.relative_to(static))
        for path in static.rglob("*")
        # static/operators/ styles the admin's pages, which are never opened offline.
        if path.suffix in (".js", ".css") and path.relative_to(static).parts[0] != "operators"
    }
    assert shipped - set(SHELL_FILES) == set()


def test_every_shell_file_exists(client):
    from django.contrib.staticfiles import finders

    assert [name for name in SHELL_FILES if finders.find(name) is None] == []


def test_the_console_scripts_are_translated(client):
    answer = client.get("/console/i18n.js", HTTP_ACCEPT_LANGUAGE="zh-Hans")
    assert answer.status_code == 200
    catalog = answer.content.decode()
    assert "Needs attention (%(count)s)" in catalog
    assert "\\u9700\\u8981" in catalog or "需要" in catalog


def test_the_project_page_explains_installing_and_pairing(client):
    answer = client.get("/project.html")
    page = answer.content.decode()
    assert answer.status_code == 200
    assert "How pairing works" in page
    assert "curl -fsSL http://testserver/agent/install.sh" in page
    assert 'href="/console/"' in page


def test_the_project_page_speaks_chinese(client):
    page = client.get("/project.html", HTTP_ACCEPT_LANGUAGE="zh-Hans").content.decode()
    assert '<html lang="zh-hans">' in page
    assert "How pairing works" not in page


def test_the_offline_copy_is_replaced_when_a_shell_file_changes(tmp_path, monkeypatch):
    from codexpanel import console

    script = tmp_path / "app.js"
    monkeypatch.setattr(console.finders, "find", lambda name: str(script))
    script.write_text("first release")
    console.shell_version.cache_clear()
    first = console.shell_version()
    script.write_text("second release")
    console.shell_version.cache_clear()
    try:
        assert console.shell_version() != first
    finally:
        console.shell_version.cache_clear()
