"""The staff trace page: what one request set off, as a tree."""

from django.http import Http404
from django.shortcuts import redirect, render

from messaging.queries import causal_tree, recent_requests

from .forms import TraceLookupForm
from .pages import staff_required


@staff_required
def trace_index(request):
    """Look up a correlation id, or pick one of the latest requests (with
    ``?deliveries=troubled``, only those with a failed or dead delivery)."""
    form = TraceLookupForm(request.GET if "correlation_id" in request.GET else None)
    if form.is_valid():
        return redirect("messaging:trace", form.cleaned_data["correlation_id"])
    troubled = request.GET.get("deliveries") == "troubled"
    return render(
        request,
        "messaging/trace_index.html",
        {"form": form, "recent": recent_requests(troubled=troubled), "troubled": troubled},
    )


@staff_required
def trace(request, correlation_id):
    """Command -> events -> policies (with delivery status) -> the commands they issued."""
    roots = causal_tree(correlation_id)
    if not roots:
        raise Http404(f"No events are stored for correlation id {correlation_id}.")
    return render(request, "messaging/trace.html", {"correlation_id": correlation_id, "roots": roots})
