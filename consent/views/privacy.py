"""A person's privacy settings (CON-1 to CON-5, CON-7), all under /privacy/: consents to
additional functions (sensitive ones each on their own explicit form), being findable by
phone number, device permissions for client apps, cookie choices, the ledger history, a
consent receipt, and contact matching. Views validate with forms and write through
``consent.services``; basic functions never look at consents (CON-1)."""

from __future__ import annotations

import json
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from consent.context_processors import gpc_purpose_labels
from consent.forms.privacy import (
    SENSITIVE,
    AcceptAllForm,
    ConsentDecisionForm,
    CookieChoicesForm,
    DevicePermissionsForm,
    DiscoveryForm,
    SensitiveConsentForm,
)
from consent.models import PURPOSES, Channel, ConsentRecord, Decision, DevicePermission, Purpose
from consent.selectors.privacy import consent_receipt, purpose_states
from consent.services import contact_matching, ledger
from consent.services.privacy import privacy_settings_of, set_device_permissions, set_findable_by_phone
from consent.views.gpc import BANNER_PURPOSES, GPC_PURPOSES, banner_decided, consent_state, gpc_signal
from dataprotection.audit import client_ip

HISTORY_PAGE_SIZE = 50


# --------------------------------------------------------------------------- CON-1 gate


def _wants_json(request: HttpRequest) -> bool:
    return (
        request.path.endswith(".json")
        or request.content_type == "application/json"
        or "application/json" in request.headers.get("Accept", "")
    )


def function_off(request: HttpRequest, purpose: str) -> HttpResponse:
    """The answer of an additional function whose consent is missing: a clear 403 that
    points to the privacy settings, never a broken page (CON-1)."""
    label = Purpose(purpose).label
    if _wants_json(request):
        return JsonResponse(
            {
                "error": _("%(function)s is off. Turn it on in your privacy settings to use it.") % {"function": label},
                "purpose": purpose,
                "privacy_settings": reverse("consent:privacy"),
            },
            status=403,
        )
    return render(
        request,
        "consent/privacy/function_off.html",
        {"purpose": purpose, "label": label, "description": PURPOSES[purpose].description},
        status=403,
    )


def consent_required(purpose: str):
    """View decorator for additional functions (CON-1): without the person's consent to
    ``purpose`` the view is not run and ``function_off`` answers instead. Basic
    functions must never use it."""
    ledger.validate_purpose(purpose)

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not ledger.has_consent(request.user, purpose):
                return function_off(request, purpose)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def json_login_required(view):
    """Like ``login_required`` but answers JSON clients with 401 instead of a redirect."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return JsonResponse({"error": _("Sign in first.")}, status=401)
        return view(request, *args, **kwargs)

    return wrapped


# --------------------------------------------------------------------------- the settings page


def _page(request: HttpRequest, *, status: int = 200, **forms) -> HttpResponse:
    user = request.user
    current = ledger.current_policy_version()
    version = str(current.pk) if current else ""
    states = purpose_states(user)
    row = privacy_settings_of(user)
    by_purpose = {state.purpose: state for state in states}
    sensitive_forms = {
        purpose: forms.get(f"sensitive_{purpose}")
        or SensitiveConsentForm(purpose=purpose, initial={"purpose": purpose, "policy_version": version})
        for purpose, _label in SENSITIVE
    }
    cookie_initial = {category: by_purpose[purpose].granted for category, purpose in BANNER_PURPOSES.items()} | {
        "action": CookieChoicesForm.CHOSEN,
        "next": reverse("consent:privacy"),
    }
    context = {
        "current_policy": current,
        "policy_version": version,
        "states": [state for state in states if not state.sensitive],
        "sensitive_states": [(state, sensitive_forms[state.purpose]) for state in states if state.sensitive],
        "decision_form": forms.get("decision"),
        "accept_all_form": forms.get("accept_all"),
        "discovery_form": forms.get("discovery") or DiscoveryForm(initial={"findable_by_phone": row.findable_by_phone}),
        "device_form": forms.get("device")
        or DevicePermissionsForm(initial={"permissions": list(row.device_permissions)}),
        "cookie_form": CookieChoicesForm(initial=cookie_initial),
        "privacy_row": row,
        "gpc_signal": gpc_signal(request),
        "gpc_purposes": gpc_purpose_labels(),
        "hide_cookie_banner": True,  # the page has its own cookie section
    }
    return render(request, "consent/privacy/settings.html", context, status=status)


def _after_change(request: HttpRequest, user) -> None:
    """Keep the remembered banner answer in step with the ledger."""
    consent_state(request).update(decided=banner_decided(ledger.current_consents(user)))


@login_required
@require_GET
def privacy_settings(request: HttpRequest) -> HttpResponse:
    """CON-3: every setting of the person on one page."""
    return _page(request)


@login_required
@require_POST
def decide(request: HttpRequest) -> HttpResponse:
    """CON-2: grant or withdraw one (non-sensitive) purpose; withdrawing a sensitive one."""
    form = ConsentDecisionForm(request.POST)
    if not form.is_valid():
        return _page(request, status=400, decision=form)
    purpose, decision = form.cleaned_data["purpose"], form.cleaned_data["decision"]
    version = form.cleaned_data["policy_version"]
    try:
        ledger.record_consent(
            user=request.user,
            purpose=purpose,
            decision=decision,
            channel=Channel.WEB,
            policy_version=version.pk if version else None,
            ip=client_ip(request),
        )
    except ValidationError as exc:
        form.add_error(None, exc)
        return _page(request, status=400, decision=form)
    _after_change(request, request.user)
    label = Purpose(purpose).label
    if decision == Decision.GRANTED:
        messages.success(request, _("%(purpose)s is on.") % {"purpose": label})
    else:
        messages.success(request, _("%(purpose)s is off. Nothing more is processed for it.") % {"purpose": label})
    return redirect("consent:privacy")


@login_required
@require_POST
def give_sensitive_consent(request: HttpRequest) -> HttpResponse:
    """CON-5: a sensitive purpose is granted only on its own form with an explicit
    confirmation of what is processed."""
    form = SensitiveConsentForm(request.POST)
    purpose = request.POST.get("purpose", "")
    if not form.is_valid():
        key = f"sensitive_{purpose}" if purpose in dict(SENSITIVE) else "decision"
        return _page(request, status=400, **{key: form})
    version = form.cleaned_data["policy_version"]
    try:
        ledger.record_consent(
            user=request.user,
            purpose=form.cleaned_data["purpose"],
            decision=Decision.GRANTED,
            channel=Channel.WEB,
            policy_version=version.pk if version else None,
            ip=client_ip(request),
        )
    except ValidationError as exc:
        form.add_error(None, exc)
        return _page(request, status=400, **{f"sensitive_{purpose}": form})
    messages.success(
        request, _("Your explicit consent to %(purpose)s was recorded.") % {"purpose": Purpose(purpose).label}
    )
    return redirect("consent:privacy")


@login_required
@require_POST
def accept_all(request: HttpRequest) -> HttpResponse:
    """Turn on every additional function that is not sensitive (CON-5: sensitive ones
    are never part of a bulk consent). Under a GPC signal its purposes stay off (CON-7)."""
    form = AcceptAllForm(request.POST)
    if not form.is_valid():
        return _page(request, status=400, accept_all=form)
    excluded = set(GPC_PURPOSES) if gpc_signal(request) else set()
    decisions = {
        purpose: Decision.GRANTED
        for purpose, info in PURPOSES.items()
        if not info.sensitive and purpose not in excluded
    }
    version = form.cleaned_data["policy_version"]
    try:
        ledger.set_consents(
            user=request.user,
            decisions=decisions,
            channel=Channel.WEB,
            policy_version=version.pk if version else None,
            ip=client_ip(request),
        )
    except ValidationError as exc:
        form.add_error(None, exc)
        return _page(request, status=400, accept_all=form)
    _after_change(request, request.user)
    messages.success(request, _("Every additional function that is not sensitive is on."))
    return redirect("consent:privacy")


@login_required
@require_POST
def discovery(request: HttpRequest) -> HttpResponse:
    """CON-3, CON-4: others can (or no longer can) find me by my phone number."""
    form = DiscoveryForm(request.POST)
    if not form.is_valid():
        return _page(request, status=400, discovery=form)
    findable = form.cleaned_data["findable_by_phone"]
    set_findable_by_phone(request.user, findable, ip=client_ip(request))
    if findable:
        messages.success(request, _("People who have your number can now find you."))
    else:
        messages.success(request, _("Nobody can find you by your phone number any more."))
    return redirect("consent:privacy")


@login_required
@require_POST
def device_permissions(request: HttpRequest) -> HttpResponse:
    """CON-3: the device permissions client apps may use."""
    form = DevicePermissionsForm(request.POST)
    if not form.is_valid():
        return _page(request, status=400, device=form)
    set_device_permissions(request.user, form.cleaned_data["permissions"], ip=client_ip(request))
    messages.success(request, _("Your device permissions were updated."))
    return redirect("consent:privacy")


@json_login_required
@require_GET
def device_permissions_json(request: HttpRequest) -> JsonResponse:
    """CON-3: what client apps of the signed-in person may use (absent: not allowed)."""
    row = privacy_settings_of(request.user)
    allowed = set(row.device_permissions)
    return JsonResponse(
        {
            "permissions": {value: value in allowed for value in DevicePermission.values},
            "updated_at": row.updated_at.isoformat() if row.pk else None,
        }
    )


@login_required
@require_GET
def history(request: HttpRequest) -> HttpResponse:
    """CON-2: the person's whole ledger, newest first; withdrawals never erase grants."""
    records = ConsentRecord.objects.of_person(request.user).select_related("policy_version").order_by("-pk")
    page = Paginator(records, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "consent/privacy/history.html", {"page": page})


@login_required
@require_GET
def receipt(request: HttpRequest) -> JsonResponse:
    """CON-2: a machine-readable consent receipt (Kantara CR v1.1 fields), downloaded."""
    document = consent_receipt(
        request.user, policy_url=request.build_absolute_uri("/policies/"), language=request.LANGUAGE_CODE
    )
    response = JsonResponse(document, json_dumps_params={"ensure_ascii": False, "indent": 2})
    response["Content-Disposition"] = 'attachment; filename="custodia-consent-receipt.json"'
    return response


# --------------------------------------------------------------------------- cookie banner


@require_POST
def cookie_choices(request: HttpRequest) -> HttpResponse:
    """CON-3 (EN II): the cookie banner's answer, for visitors (their own ledger under a
    random visitor key kept in a strictly necessary cookie) and signed-in people."""
    form = CookieChoicesForm(request.POST)
    target = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("home")
    if not form.is_valid():
        messages.error(request, _("Your cookie choices could not be read. Choose again."))
        return redirect(target)
    choices = form.choices()
    if gpc_signal(request):
        choices["marketing"] = False  # CON-7: the browser's signal wins over "accept all"
    state = consent_state(request)
    decisions = {
        BANNER_PURPOSES[category]: Decision.GRANTED if on else Decision.WITHDRAWN for category, on in choices.items()
    }
    ledger.set_consents(
        **state.subject,
        decisions=decisions,
        channel=Channel.COOKIE_BANNER,
        policy_version=ledger.CURRENT,
        ip=client_ip(request),
    )
    state.update(decided=True)
    messages.success(request, _("Your cookie choices were recorded. You can change them in the privacy settings."))
    return redirect(target)


# --------------------------------------------------------------------------- contact matching (CON-4)


@login_required
@require_GET
@consent_required(Purpose.CONTACT_MATCHING)
def contacts(request: HttpRequest) -> HttpResponse:
    """CON-4: paste phone numbers; the browser hashes them and asks for matches."""
    return render(
        request,
        "consent/privacy/contacts.html",
        {"max_digests": contact_matching.MAX_DIGESTS_PER_REQUEST},
    )


@json_login_required
@require_GET
@consent_required(Purpose.CONTACT_MATCHING)
def contacts_key(request: HttpRequest) -> JsonResponse:
    """CON-4: the key clients hash phone numbers with, and its id."""
    return JsonResponse(contact_matching.public_key_document())


@require_http_methods(["POST"])
@json_login_required
@consent_required(Purpose.CONTACT_MATCHING)
def contacts_match(request: HttpRequest) -> JsonResponse:
    """CON-4: which submitted digests belong to people who allow being found. The
    digests are compared and forgotten: never stored, logged or audited (only counted)."""
    try:
        payload = json.loads(request.body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return JsonResponse({"error": _('The body is not JSON. Send {"digests": [...]}.')}, status=400)
    try:
        digests = contact_matching.parse_digests(payload)
    except ValidationError as exc:
        return JsonResponse({"error": exc.messages[0]}, status=400)
    try:
        matches = contact_matching.match_contacts(request.user, digests, ip=client_ip(request))
    except contact_matching.DailyLimitExceeded:
        return JsonResponse(
            {"error": _("You reached today's limit for contact matching. Try again tomorrow.")}, status=429
        )
    return JsonResponse({"key_id": contact_matching.key_id(), "matches": matches})


urlpatterns = [
    path("privacy/", privacy_settings, name="privacy"),
    path("privacy/consents/", decide, name="privacy_decide"),
    path("privacy/consents/sensitive/", give_sensitive_consent, name="privacy_sensitive"),
    path("privacy/consents/all/", accept_all, name="privacy_accept_all"),
    path("privacy/discovery/", discovery, name="privacy_discovery"),
    path("privacy/device-permissions/", device_permissions, name="privacy_device_permissions"),
    path("privacy/device-permissions.json", device_permissions_json, name="device_permissions_json"),
    path("privacy/history/", history, name="privacy_history"),
    path("privacy/receipt.json", receipt, name="consent_receipt"),
    path("privacy/cookies/", cookie_choices, name="cookie_choices"),
    path("privacy/contacts/", contacts, name="contacts"),
    path("privacy/contacts/key.json", contacts_key, name="contacts_key"),
    path("privacy/contacts/match", contacts_match, name="contacts_match"),
]
