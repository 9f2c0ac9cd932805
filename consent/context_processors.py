"""Template context of the consent app: the cookie banner (CON-3, EN II) and the Global
Privacy Control note (CON-7) that ``templates/base.html`` shows.

Read lazily (a page that does not render it costs nothing) from the state the GPC
middleware attached: zero queries for a visitor without a visitor cookie or for anyone
whose answer is already remembered (session or signed cookie), at most one otherwise,
after which the answer is remembered too."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import SimpleLazyObject

from consent.models import Purpose
from consent.services.ledger import current_consents, current_visitor_consents
from consent.views.gpc import BANNER_PURPOSES, GPC_PURPOSES, ConsentState, banner_decided, consent_state


@dataclass(frozen=True)
class CookieBanner:
    show: bool
    gpc_signal: bool
    gpc_purposes: list

    @property
    def gpc_opts_out_marketing(self) -> bool:
        return self.gpc_signal and BANNER_PURPOSES["marketing"] in GPC_PURPOSES


def gpc_purpose_labels() -> list:
    return [Purpose(purpose).label for purpose in GPC_PURPOSES]


def _decided(state: ConsentState) -> bool:
    if state.decided is None:
        if state.user is not None:
            consents = current_consents(state.user)
        elif state.visitor_key:
            consents = current_visitor_consents(state.visitor_key)
        else:
            return False  # no key, no records: nothing to ask the database
        state.update(decided=banner_decided(consents))
    return bool(state.decided)


def cookie_banner(request) -> dict:
    def build() -> CookieBanner:
        state = consent_state(request)
        return CookieBanner(
            show=not _decided(state),
            gpc_signal=state.signal,
            gpc_purposes=gpc_purpose_labels() if state.signal else [],
        )

    return {"cookie_banner": SimpleLazyObject(build)}
