"""What every page view shares: the staff check and how a command's result
is told to the person who sent it."""

import dataclasses
import math
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import render

from messaging import bus
from messaging.messages import Command, Rejection, Result
from messaging.registry import registry


def dispatch_for(request, command: Command) -> Result:
    """Dispatch a command a page or an admin action built, under the request's
    correlation id, so the id in the response header leads to its trace."""
    return bus.dispatch(dataclasses.replace(command, correlation_id=getattr(request, "correlation_id", None)))


def refusal_message(rejection: Rejection) -> str:
    """The sentence a page (or the admin) shows for a refused command: its
    reason, unless the code declares a ``page_message`` because its reasons
    are not written for the person at the page."""
    return registry.refusal(rejection.code).page_message or rejection.reason


def report(request, result: Result, done: str) -> bool:
    """Tell the person what their command did, as one message on the next
    page; ``True`` when it was not refused."""
    if result.rejection:
        messages.error(request, refusal_message(result.rejection))
        return False
    messages.success(request, done)
    return True


def report_invalid(request, form) -> None:
    """Tell the person why a form the next page does not show again was not accepted."""
    for name, errors in form.errors.items():
        field = form.fields.get(name)
        if field is None or field.widget.is_hidden:
            messages.error(request, "That form was incomplete. Please try again.")
        else:
            messages.error(request, f"{field.label or name.capitalize()}: {' '.join(errors)}")


def throttled(request, throttle, what: str, *, back_url: str, back_text: str) -> HttpResponse | None:
    """A 429 page with ``Retry-After`` when ``throttle`` (one of the API's, so
    a page and its endpoint count together) refuses this request; ``None``
    otherwise."""
    if throttle.allow_request(request, None):
        return None
    wait = math.ceil(throttle.wait() or 1)
    detail = f"Too many {what}. Try again in {math.ceil(wait / 60)} minute(s)."
    context = {"detail": detail, "back_url": back_url, "back_text": back_text}
    limited = render(request, "too_many_requests.html", context, status=429)
    limited["Retry-After"] = str(wait)
    return limited


def staff_required(view):
    """Sign-in first (a redirect to the login page), then 403 for non-staff."""

    @login_required
    @wraps(view)
    def guarded(request, *args, **kwargs):
        if not request.user.is_staff:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return guarded
