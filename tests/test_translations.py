"""The German and French catalogues cover every string Exportdesk marks, and the committed .mo
files are what the .po files compile to (hosts and CI need no msgfmt to get translations)."""

import gettext
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command

import exports

APP = Path(exports.__file__).parent
LANGUAGES = ["de", "fr"]


def statistics(po: Path) -> str:
    """msgfmt's own count: "N translated messages." when nothing is fuzzy or untranslated."""
    done = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", "/dev/null", str(po)],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stderr.strip()


@pytest.fixture(scope="module")
def fresh_catalogues(tmp_path_factory) -> Path:
    """makemessages over a copy of the app: the committed translations merged with every
    msgid the code and templates mark today."""
    copy = tmp_path_factory.mktemp("i18n") / "exports"
    shutil.copytree(APP, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(copy)
        call_command("makemessages", locale=LANGUAGES, no_location=True, verbosity=0)
    return copy / "locale"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_marked_string_is_translated(fresh_catalogues, language):
    counted = statistics(fresh_catalogues / language / "LC_MESSAGES" / "django.po")
    assert re.fullmatch(r"\d+ translated messages?\.", counted), counted


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_committed_catalogue_is_current(fresh_catalogues, language):
    """Same msgids as a fresh run: none missing (the test above) and none left over."""
    committed = catalogue_ids(APP / "locale" / language / "LC_MESSAGES" / "django.po")
    fresh = catalogue_ids(fresh_catalogues / language / "LC_MESSAGES" / "django.po")
    assert committed == fresh


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_committed_mo_file_is_the_compiled_po_file(tmp_path, language):
    folder = APP / "locale" / language / "LC_MESSAGES"
    compiled = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "-o", str(compiled), str(folder / "django.po")], check=True)
    assert read_mo(folder / "django.mo") == read_mo(compiled)


def read_mo(path: Path) -> dict:
    with path.open("rb") as handle:
        return dict(gettext.GNUTranslations(handle)._catalog)


def catalogue_ids(po: Path) -> set[str]:
    """The msgids a .po file holds, obsolete (#~) entries aside."""
    text = po.read_text(encoding="utf-8")
    return set(re.findall(r'^msgid ((?:".*"\n)+)', text, flags=re.MULTILINE)) - {'""\n'}
