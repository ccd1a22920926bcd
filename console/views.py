"""The kernel's staff pages: the console's front page, the trace (what one
request set off, as a tree and a timeline) and, in development, the mail
sent."""

from django.conf import settings
from django.http import Http404
from django.shortcuts import redirect, render

from interfaces.forms import TraceLookupForm
from interfaces.pages import staff_required
from messaging.operations.log import recent_requests
from messaging.operations.trace import causal_tree, timeline, trace_ids

from . import mailbox


@staff_required
def staff_console(request):
    """The staff console's front page: a card for each staff page."""
    return render(request, "staff_console.html", {"mailbox": mailbox.mailbox() is not None})


@staff_required
def sent_mail(request):
    """The mail sent lately, decoded, its links clickable (a password-reset
    link leads to its form): only in development, where the development
    mail backend keeps a copy of each (``DEVELOPMENT_MAILBOX``); 404 when
    it keeps none."""
    if mailbox.mailbox() is None:
        raise Http404("No mail is kept here: DEVELOPMENT_MAILBOX is not set.")
    return render(request, "console/sent_mail.html", {"mails": mailbox.sent_mails()})


@staff_required
def trace_index(request):
    """Look up a correlation id, or pick one of the latest requests (with
    ``?deliveries=troubled``, only those with a failed or dead delivery)."""
    form = TraceLookupForm(request.GET if "correlation_id" in request.GET else None)
    if form.is_valid():
        return redirect("console:trace", form.cleaned_data["correlation_id"])
    troubled = request.GET.get("deliveries") == "troubled"
    return render(
        request,
        "console/trace_index.html",
        {"form": form, "recent": recent_requests(troubled=troubled), "troubled": troubled},
    )


@staff_required
def trace(request, correlation_id):
    """Command -> events -> policies (with delivery status) -> the commands they
    issued; a timeline of how long each command and delivery took, drawn as
    bars (server-rendered SVG); and the OpenTelemetry traces it ran in,
    linked to the tracing backend when ``OTEL_TRACE_URL`` says where."""
    roots = causal_tree(correlation_id)
    if not roots:
        raise Http404(f"No events are stored for correlation id {correlation_id}.")
    traces = [
        (trace_id, settings.OTEL_TRACE_URL.format(trace_id=trace_id) if settings.OTEL_TRACE_URL else "")
        for trace_id in trace_ids(roots)
    ]
    return render(
        request,
        "console/trace.html",
        {"correlation_id": correlation_id, "roots": roots, "traces": traces, "timeline": timeline(roots)},
    )
