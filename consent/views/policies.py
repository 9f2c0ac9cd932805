"""Policy pages (CON-6, EN VIII), public: the list of editions with every published
version, the current version of an edition, a stable URL per version (old versions stay
readable), and the page on which a signed-in person acknowledges a significant change.

Bodies are plain text: the templates escape them and show each line as a paragraph.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from consent.forms.policies import AcknowledgeForm
from consent.models import PolicyEdition, PolicyPart, PolicyVersion, SignificantChange
from consent.selectors import policies as selectors
from consent.services import policies as services
from consent.views import policy_notice
from dataprotection.audit import client_ip

# Short lines that open a section ("I. …", "(II) …", "一、…", "（三）…", "第二部分 …") are
# shown in bold so the long texts can be skimmed; everything else is a plain paragraph.
CHINESE_NUMBER = "[一二三四五六七八九十]+"
HEADING = re.compile(rf"^(?:[IVX]+\.\s|\([IVX]+\)\s?|{CHINESE_NUMBER}、|（{CHINESE_NUMBER}）|第{CHINESE_NUMBER}部分)")
HEADING_MAX_LENGTH = 80


@dataclass(frozen=True)
class Block:
    text: str
    heading: bool


def paragraphs(body: str) -> list[Block]:
    """One block per non-blank line (the sources use a line per paragraph)."""
    blocks = []
    for line in body.splitlines():
        text = line.strip()
        if text:
            blocks.append(Block(text, bool(HEADING.match(text)) and len(text) <= HEADING_MAX_LENGTH))
    return blocks


def active_language() -> str:
    try:
        return translation.get_supported_language_variant(translation.get_language() or settings.LANGUAGE_CODE)
    except LookupError:
        return settings.LANGUAGE_CODE


def change_labels(version: PolicyVersion) -> list[str]:
    labels = dict(SignificantChange.choices)
    return [str(labels.get(kind, kind)) for kind in version.significant_changes or []]


@require_GET
def policy_list(request: HttpRequest) -> HttpResponse:
    """Every edition with its current version and all older ones (EN VIII: "we will
    archive the old version"). One query, plus one for a signed-in person's editions."""
    versions = list(
        selectors.published_versions()
        .only("edition", "version", "effective_on", "published_at", "significant")
        .order_by("edition", "-published_at", "-pk")
    )
    applicable = selectors.editions_for(request.user)
    editions = []
    for edition in PolicyEdition:
        own = [version for version in versions if version.edition == edition.value]
        editions.append(
            {
                "value": edition.value,
                "label": edition.label,
                "current": own[0] if own else None,
                "older": own[1:],
                "applies": edition.value in applicable,
            }
        )
    return render(request, "consent/policies/list.html", {"editions": editions})


@require_GET
def policy_current(request: HttpRequest, edition: str) -> HttpResponse:
    """The current published version of ``edition``."""
    return _render_version(request, edition, None)


@require_GET
def policy_version(request: HttpRequest, edition: str, version: str) -> HttpResponse:
    """The stable URL of one published version; drafts and unknown labels are 404."""
    return _render_version(request, edition, version)


def _render_version(request: HttpRequest, edition: str, label: str | None) -> HttpResponse:
    if edition not in PolicyEdition.values:
        raise Http404
    versions = list(selectors.published_versions().filter(edition=edition).order_by("-published_at", "-pk"))
    if not versions:
        raise Http404
    current = versions[0]
    shown = current if label is None else next((v for v in versions if v.version == label), None)
    if shown is None:
        raise Http404
    part = request.GET.get("part") or PolicyPart.MAIN
    texts = list(shown.texts.all())
    parts = [value for value in PolicyPart.values if any(text.part == value for text in texts)]
    if part not in parts:
        raise Http404
    language = active_language()
    in_part = {text.language: text for text in texts if text.part == part}
    text = in_part.get(language)
    fallback = text is None
    if fallback:
        # Published in the other language only: show it, and say so.
        text = next(in_part[code] for code, _name in settings.LANGUAGES if code in in_part)
    part_labels = dict(PolicyPart.choices)
    return render(
        request,
        "consent/policies/version.html",
        {
            "version": shown,
            "is_current": shown.pk == current.pk,
            "current": current,
            "versions": versions,
            "text": text,
            "blocks": paragraphs(text.body),
            "fallback": fallback,
            "text_language": dict(settings.LANGUAGES).get(text.language, text.language),
            "part": part,
            "parts": [{"value": value, "label": part_labels[value]} for value in parts],
            "changes": change_labels(shown),
        },
    )


def _safe_next(request: HttpRequest, target: str | None) -> str:
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return ""


@login_required
@require_http_methods(["GET", "POST"])
def policy_acknowledge(request: HttpRequest) -> HttpResponse:
    """CON-6: the significant changes the person has not acknowledged, each with what
    changed and a link to its full text, and one button to acknowledge them. The form
    carries the version ids and a signed token binding them to the person."""
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next"))
    if request.method == "POST":
        form = AcknowledgeForm(request.POST)
        if not form.is_valid():
            messages.error(
                request,
                _("This acknowledgement could not be verified. Nothing was recorded; please read the changes again."),
            )
        else:
            try:
                recorded = services.acknowledge_policy_versions(
                    request.user,
                    form.cleaned_data["versions"],
                    form.cleaned_data["token"],
                    language=active_language(),
                    ip=client_ip(request),
                )
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                if recorded:
                    messages.success(request, _("Thank you. We recorded that you have read the changes."))
                else:
                    messages.info(request, _("You had already acknowledged these changes."))
    pending = selectors.pending_significant_versions(request.user)
    policy_notice.set_pending(request, [version.pk for version in pending])
    if not pending:
        return redirect(next_url or settings.LOGIN_REDIRECT_URL)
    ids = [version.pk for version in pending]
    form = AcknowledgeForm(
        initial={
            "versions": ",".join(map(str, sorted(ids))),
            "token": services.acknowledgement_token(request.user, ids),
            "next": next_url,
        }
    )
    return render(
        request,
        "consent/policies/acknowledge.html",
        {"pending": [(version, change_labels(version)) for version in pending], "form": form},
    )


urlpatterns = [
    path("policies/", policy_list, name="policy_list"),
    path("policies/acknowledge/", policy_acknowledge, name="policy_acknowledge"),
    path("policies/<slug:edition>/", policy_current, name="policy_current"),
    path("policies/<slug:edition>/<str:version>/", policy_version, name="policy_version"),
]
