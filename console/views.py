"""The staff trace page: what one request set off, as a tree."""

from django.conf import settings
from django.http import Http404
from django.shortcuts import redirect, render

from interfaces.forms import TraceLookupForm
from interfaces.pages import staff_required
from messaging.operations.log import recent_requests
from messaging.operations.trace import causal_tree, timeline, trace_ids


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
