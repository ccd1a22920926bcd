"""REST endpoints of the catalog context: the books on sale and their stock.

Anyone may browse; staff add books and restock. Writes go through
``interfaces.api_commands.execute``; reads through ``catalog.queries``.
"""

from decimal import Decimal

from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from interfaces.api_commands import execute, validated
from interfaces.schema import errors
from interfaces.viewsets import ApiViewSet

from . import queries
from .commands import AddBook, RestockBook
from .refusals import CatalogRefusal
from .values import MAX_AUTHOR, MAX_DESCRIPTION, MAX_RESTOCK, MAX_TITLE, Isbn, Money

# --- Input --------------------------------------------------------------------


class BookInput(serializers.Serializer):
    title = serializers.CharField(max_length=MAX_TITLE)
    author = serializers.CharField(max_length=MAX_AUTHOR)
    isbn = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=17)
    price = serializers.DecimalField(max_digits=11, decimal_places=2, min_value=Decimal(0))
    currency = serializers.CharField(required=False, default="USD", max_length=3)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=MAX_DESCRIPTION)

    def validate_isbn(self, value) -> Isbn | None:
        return Isbn(value) if value else None

    def validate_currency(self, value) -> str:
        return Money.zero(value).currency

    def validate(self, attrs):
        return {**attrs, "price": Money(attrs["price"], attrs.pop("currency"))}


class BookFilter(serializers.Serializer):
    """The query of the books list: the catalog page's search, and more."""

    search = serializers.CharField(
        required=False, allow_blank=True, max_length=100, help_text="Title, author or ISBN contains this."
    )
    in_stock = serializers.BooleanField(
        required=False, allow_null=True, default=None, help_text="Only books with copies to order (or without)."
    )
    ordering = serializers.ChoiceField(
        choices=[order for key in queries.BOOK_ORDERINGS for order in (key, f"-{key}")],
        required=False,
        default="title",
        help_text="Sort by this; a leading - reverses it. stock is what can still be ordered.",
    )


class RestockInput(serializers.Serializer):
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_RESTOCK)


# --- Output -------------------------------------------------------------------


class BookOutput(serializers.Serializer):
    """A book on sale; ``stock`` is how many copies can still be ordered."""

    id = serializers.UUIDField(source="book_id")
    title = serializers.CharField()
    author = serializers.CharField()
    isbn = serializers.CharField(allow_null=True)
    price = serializers.DecimalField(max_digits=11, decimal_places=2, source="price.amount")
    currency = serializers.CharField(source="price.currency")
    stock = serializers.IntegerField(source="available")


# --- Views --------------------------------------------------------------------


class BookViewSet(ApiViewSet):
    """The catalog."""

    lookup_value_converter = "uuid"
    inputs = {"create": BookInput, "restock": RestockInput}

    def get_permissions(self):
        if self.action in ("list", "retrieve"):
            return [permissions.AllowAny()]
        return [permissions.IsAdminUser()]

    @extend_schema(parameters=[BookFilter], responses={200: BookOutput(many=True), **errors(400)})
    def list(self, request):
        """The books, by title unless sorted otherwise; searched and filtered as asked."""
        query = validated(BookFilter, request.query_params)
        rows = queries.search_books(query.get("search", ""), in_stock=query["in_stock"], ordering=query["ordering"])
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(BookOutput([queries.book_view(row) for row in page], many=True).data)

    @extend_schema(responses={200: BookOutput, **errors(404)})
    def retrieve(self, request, pk):
        """One book with its stock."""
        return Response(_book(pk))

    @extend_schema(
        responses={
            201: BookOutput,
            **errors(
                400,
                bad_request="Invalid fields.",
                refusals=[CatalogRefusal.INVALID_BOOK, CatalogRefusal.INVALID_PRICE, CatalogRefusal.DUPLICATE_ISBN],
            ),
        },
    )
    def create(self, request):
        """Add a book (staff). Its initial stock is there when the answer comes."""
        data = self.validated_body()
        command = AddBook(
            title=data["title"],
            author=data["author"],
            isbn=data.get("isbn"),
            price=data["price"],
            description=data["description"],
        )
        return execute(request, command, render=lambda result: Response(_book(result.events[0].book_id), 201))

    @extend_schema(
        responses={
            200: BookOutput,
            **errors(400, 404, bad_request="Invalid fields.", refusals=[CatalogRefusal.INVALID_QUANTITY]),
        },
    )
    @action(detail=True, methods=["post"])
    def restock(self, request, pk):
        """Add copies to a book's stock (staff)."""
        data = self.validated_body()
        command = RestockBook(book_id=pk, quantity=data["quantity"])
        return execute(request, command, render=lambda result: Response(_book(pk)))


def _book(book_id) -> dict:
    book = queries.book(book_id)
    if book is None:
        raise NotFound("No such book.")
    return BookOutput(book).data


router = SimpleRouter(use_regex_path=False)
router.register("books", BookViewSet, basename="book")

urlpatterns = router.urls
