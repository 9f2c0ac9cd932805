"""The person's personal access tokens of the REST API: create, list, revoke."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.api.tokens import create_api_token, revoke_api_token
from accounts.forms import ApiTokenForm
from accounts.models import ApiToken
from dataprotection.audit import client_ip


@login_required
@require_http_methods(["GET", "POST"])
def api_tokens(request: HttpRequest) -> HttpResponse:
    """The person's personal access tokens: create (the secret is shown on this answer
    only, never stored or put in a message), list, revoke. SEC-1: creating a token is a
    sensitive action of the assurance policy (``accounts.assurance``): this page needs
    the second factor where required and a fresh proof of identity."""
    form = ApiTokenForm(request.POST or None)
    secret = None
    if request.method == "POST" and form.is_valid():
        try:
            secret, _token = create_api_token(
                request.user, minted_by=request.user.assurance, ip=client_ip(request), **form.cleaned_data
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            form = ApiTokenForm()
    tokens = ApiToken.objects.filter(user=request.user).order_by("-created_at", "-pk")
    response = render(request, "accounts/api_tokens.html", {"form": form, "tokens": tokens, "secret": secret})
    if secret:
        response["Cache-Control"] = "no-store"  # the secret must not stay in a cache
    return response


@login_required
@require_POST
def revoke_token(request: HttpRequest, token_id: int) -> HttpResponse:
    token = ApiToken.objects.filter(user=request.user, pk=token_id).first()
    if token is None:
        raise Http404
    if revoke_api_token(token, actor=request.user, ip=client_ip(request)):
        messages.success(request, _("The token “%(name)s” was revoked.") % {"name": token.name})
    return redirect("accounts:api_tokens")
