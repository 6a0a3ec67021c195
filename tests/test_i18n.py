"""English and Simplified Chinese (SPEC §8): the catalog is complete, compiled, and covers
every string the code marks for translation."""

from __future__ import annotations

import gettext
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest

from .conftest import require

ROOT = Path(__file__).resolve().parent.parent
MESSAGES = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES"
# The relay's catalog, and the console scripts' (served by /console/i18n.js).
DOMAINS = ["django", "djangojs"]
SOURCES = [
    "manage.py",
    "pyproject.toml",
    "codexpanel",
    "accounts",
    "devices",
    "setupflow",
    "templates",
    "agent",
    "static",
]


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_chinese_message_is_translated_and_not_fuzzy(domain):
    catalog = polib.pofile(str(MESSAGES / f"{domain}.po"))
    assert catalog.untranslated_entries() == []
    assert catalog.fuzzy_entries() == []
    assert len(catalog.translated_entries()) > 30


@pytest.mark.parametrize("domain", DOMAINS)
def test_the_compiled_catalog_matches_the_source_catalog(domain):
    po = MESSAGES / f"{domain}.po"
    compiled = gettext.GNUTranslations(po.with_suffix(".mo").open("rb"))
    for entry in polib.pofile(str(po)).translated_entries():
        if entry.msgid_plural:
            translated = compiled.ngettext(entry.msgid, entry.msgid_plural, 1)
            assert translated == entry.msgstr_plural[0], entry.msgid
        else:
            assert compiled.gettext(entry.msgid) == entry.msgstr, entry.msgid


@pytest.mark.parametrize("domain", DOMAINS)
def test_the_catalog_covers_every_string_marked_in_the_code(tmp_path, domain):
    require(shutil.which("xgettext") is not None, "GNU gettext (apt-get install gettext)")
    copy = tmp_path / "tree"
    copy.mkdir()
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            shutil.copy(source, copy / name)
    (copy / "locale").mkdir()
    makemessages = [sys.executable, "manage.py", "makemessages", "-d", domain]
    result = subprocess.run(
        [*makemessages, "-l", "zh_Hans", "--no-location"],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "DEBUG": "true", "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
    extracted = {
        e.msgid for e in polib.pofile(str(copy / f"locale/zh_Hans/LC_MESSAGES/{domain}.po"))
    }
    ours = {e.msgid for e in polib.pofile(str(MESSAGES / f"{domain}.po")) if not e.obsolete}
    assert extracted - ours == set(), "run makemessages -l zh_Hans and translate the new strings"
