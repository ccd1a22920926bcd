"""Pages of the catalog: the books with their stock, a book's page with its
order form, and the staff console's books (add, restock)."""

from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from interfaces.pages import dispatch_for, report, report_invalid, staff_required

from . import queries
from .commands import AddBook, RestockBook
from .forms import AddBookForm, BookSearchForm, RestockForm

PAGE_SIZE = 20


def books(request):
    """Every book with what is in stock, searchable, a page at a time."""
    search, page = _search_and_page(request)
    return render(request, "catalog/books.html", {"page": page, "search": search})


def book(request, book_id):
    """A book, its stock, and (for the signed-in) the form to order it, which
    the template asks of orders (``order_forms``)."""
    found = queries.book(book_id)
    if found is None:
        raise Http404("No such book.")
    return render(request, "catalog/book.html", {"book": found})


@staff_required
def staff_books(request):
    """The console's books: add one (the form posts here), restock any."""
    form = AddBookForm(request.POST or None)
    if form.is_valid():
        data = form.cleaned_data
        command = AddBook(
            title=data["title"],
            author=data["author"],
            isbn=data["isbn"],
            price=data["price"],
            description=data["description"],
            actor_id=request.user.pk,
            idempotency_key=form.key,
        )
        result = dispatch_for(request, command)
        if report(request, result, f"Added “{data['title']}”; its stock arrives with it."):
            return redirect("catalog:book", result.events[0].book_id)
        form.renew_key()
    search, page = _search_and_page(request)
    rows = [(row, RestockForm(auto_id=f"restock_{row.pk}_%s")) for row in page]
    return render(request, "catalog/staff_books.html", {"form": form, "page": page, "rows": rows, "search": search})


@require_POST
@staff_required
def restock(request, book_id):
    """Add copies to a book's stock, from the console's list."""
    form = RestockForm(request.POST)
    if form.is_valid():
        quantity = form.cleaned_data["quantity"]
        command = RestockBook(book_id=book_id, quantity=quantity, actor_id=request.user.pk, idempotency_key=form.key)
        report(request, dispatch_for(request, command), f"Restocked {quantity} cop{'y' if quantity == 1 else 'ies'}.")
    else:
        report_invalid(request, form)
    return redirect("catalog:staff_books")


def _search_and_page(request):
    form = BookSearchForm(request.GET)
    search = form.cleaned_data["q"] if form.is_valid() else ""
    return search, Paginator(queries.search_books(search), PAGE_SIZE).get_page(request.GET.get("page"))
