"""The project's URLs plus the floor of bench/load.py: the least an authenticated page
can cost, through the same middleware (session, user, second factor, security headers,
CSRF, consent) and nothing else. Only the load benchmark serves it."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.urls import path

from config.urls import urlpatterns as project_urlpatterns


@login_required
def floor(request):
    if not request.user.is_verified():  # signed in with both factors, as the roster needs
        raise PermissionDenied
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [path("bench/floor/", floor, name="bench_floor"), *project_urlpatterns]
