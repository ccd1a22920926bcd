"""What the catalog context refuses, each code declared once with its status.

``BOOK_NOT_FOUND`` and ``INVALID_QUANTITY`` are also what the orders context
says of the books and quantities of an order: it imports them from here.
"""

from messaging.refusals import Refusal


class CatalogRefusal(Refusal):
    BOOK_NOT_FOUND = "book_not_found", 404, "No such book."
    INVALID_BOOK = "invalid_book", 400, "A book needs a title and an author, each of a reasonable length."
    INVALID_PRICE = "invalid_price", 400, "That price is higher than the catalog allows."
    INVALID_QUANTITY = "invalid_quantity", 400, "That is not a number of copies the shop accepts."
    DUPLICATE_ISBN = "duplicate_isbn", 409, "A book with that ISBN is already in the catalog."
