"""German and English (MG-2 Home): gettext catalogs kept as .po files beside the code.

The source strings are English; locale/<lang>/LC_MESSAGES/messages.po holds the other
languages. Catalogs are compiled in memory when the app starts, so there is no build step
and no binary file to keep in step with its source. The language of a request is the
session's choice, else the remembered cookie, else the configuration's default.
"""

from __future__ import annotations

import gettext
from collections.abc import Iterable, Mapping
from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("de", "en")
LANGUAGE_NAMES = {"de": "Deutsch", "en": "English"}
COOKIE = "tandem_lang"


def N_(text: str) -> str:  # noqa: N802 (gettext's conventional name)
    """Marks a string for the catalog where it is defined; it is translated where shown."""
    return text


@cache
def translations(lang: str) -> gettext.NullTranslations:
    return catalog(LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po", lang)


def catalog(po: Path, lang: str) -> gettext.NullTranslations:
    """A .po file compiled in memory (also used for the mails' catalog, tandem.notify)."""
    if not po.exists():
        return NullTranslations()
    with po.open("rb") as f:
        messages = read_po(f, locale=lang)
    buffer = BytesIO()
    write_mo(buffer, messages)
    buffer.seek(0)
    return Translations(buffer)


def choose(
    offered: Iterable[str], default: str, session: Mapping[str, object], cookie: str | None
) -> str:
    offered = list(offered)
    for candidate in (session.get("lang"), cookie):
        if isinstance(candidate, str) and candidate in offered:
            return candidate
    return default if default in offered else offered[0]
