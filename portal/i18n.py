"""Languages of the splash page: Babel message catalogues, one Jinja environment each.

Catalogues live in ``portal/translations/<lang>/LC_MESSAGES/messages.po``; the compiled
``.mo`` files are committed next to them (regenerate with ``python -m portal.i18n``, which
runs ``pybabel extract``, ``update`` and ``compile``), so a Pi needs no build step.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import jinja2
from babel.support import NullTranslations, Translations

TRANSLATIONS_DIR = Path(__file__).with_name("translations")
TEMPLATES_DIR = Path(__file__).with_name("templates")


@dataclass(frozen=True)
class Language:
    code: str  # as in the manifest's portal.languages and the ?lang= parameter
    name: str  # in the language itself, for the switch
    direction: str = "ltr"
    html_lang: str = ""

    @property
    def tag(self) -> str:
        return self.html_lang or self.code


# English plus four of Perth's most common community languages (ABS census).
LANGUAGES: dict[str, Language] = {
    "en": Language("en", "English"),
    "zh": Language("zh", "简体中文", html_lang="zh-Hans"),
    "vi": Language("vi", "Tiếng Việt"),
    "ar": Language("ar", "العربية", direction="rtl"),
    "it": Language("it", "Italiano"),
}


def offered(manifest_languages: Iterable[str], default: str = "en") -> tuple[Language, ...]:
    """The languages to offer: those the manifest asks for that we have, English always."""
    codes = [default, "en", *manifest_languages]
    seen: dict[str, Language] = {}
    for code in codes:
        base = code.split("_")[0]
        if base in LANGUAGES and base not in seen:
            seen[base] = LANGUAGES[base]
    return tuple(seen.values())


def translations(code: str) -> NullTranslations:
    if code == "en":
        return NullTranslations()
    return Translations.load(str(TRANSLATIONS_DIR), [code], domain="messages")


def environments() -> dict[str, jinja2.Environment]:
    """One autoescaping Jinja environment per language, with gettext installed."""
    result: dict[str, jinja2.Environment] = {}
    for code in LANGUAGES:
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
            autoescape=True,
            extensions=["jinja2.ext.i18n"],
            trim_blocks=True,
            lstrip_blocks=True,
            undefined=jinja2.StrictUndefined,
        )
        env.install_gettext_translations(translations(code), newstyle=True)  # type: ignore[attr-defined]
        result[code] = env
    return result


def rebuild_catalogues() -> None:  # pragma: no cover - a maintainer's tool
    pot = TRANSLATIONS_DIR / "messages.pot"
    cfg = TRANSLATIONS_DIR / "babel.cfg"
    pybabel = [sys.executable, "-m", "babel.messages.frontend"]
    package = Path(__file__).parent
    subprocess.run([*pybabel, "extract", "-F", str(cfg), "-o", str(pot), str(package)], check=True)
    for code in LANGUAGES:
        if code == "en":
            continue
        po = TRANSLATIONS_DIR / code / "LC_MESSAGES" / "messages.po"
        action = "update" if po.exists() else "init"
        subprocess.run(
            [*pybabel, action, "-i", str(pot), "-d", str(TRANSLATIONS_DIR), "-l", code], check=True
        )
    subprocess.run([*pybabel, "compile", "-d", str(TRANSLATIONS_DIR)], check=True)


if __name__ == "__main__":  # pragma: no cover
    rebuild_catalogues()
