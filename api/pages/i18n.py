"""The pages' languages: kept at `api/i18n.py` (voucher cards use it too, without importing the pages);
re-exported here for code that imports them from the pages."""

from __future__ import annotations

from api.i18n import DEFAULT_LANGUAGE as DEFAULT_LANGUAGE
from api.i18n import DOMAIN as DOMAIN
from api.i18n import LANGUAGES as LANGUAGES
from api.i18n import LOCALE_DIR as LOCALE_DIR
from api.i18n import N_ as N_
from api.i18n import PROBLEMS as PROBLEMS
from api.i18n import catalog as catalog
from api.i18n import choose as choose
from api.i18n import direction as direction
from api.i18n import from_accept_language as from_accept_language
from api.i18n import language_name as language_name
from api.i18n import locked_text as locked_text
from api.i18n import translate as translate
from api.i18n import translate_plural as translate_plural
from api.i18n import wrong_pin_text as wrong_pin_text
