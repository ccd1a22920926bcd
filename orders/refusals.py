"""What the orders context refuses, each code declared once with its status.

An order's customer and books are refused with the codes of the contexts
that own them (``AccountRefusal``, ``CatalogRefusal``).
"""

from messaging.refusals import Refusal


class OrderRefusal(Refusal):
    ORDER_NOT_FOUND = "order_not_found", 404, "No such order."
    # Only a signed-in customer places orders; no body fixes that.
    CUSTOMER_REQUIRED = "customer_required", 403, "An order is placed by a signed-in customer."
    EMPTY_ORDER = "empty_order", 400, "An order has at least one item."
    TOO_MANY_ITEMS = "too_many_items", 400, "An order has too many different books."
    DUPLICATE_BOOK = "duplicate_book", 400, "Each book appears once in an order, with its quantity."
    MIXED_CURRENCIES = "mixed_currencies", 409, "Books priced in different currencies go in separate orders."
    # What one customer may take off the shelf (settings ORDERS_MAX_COPIES_PER_ORDER
    # and ORDERS_MAX_HELD_COPIES), so nobody holds the whole shop with one order.
    ORDER_TOO_LARGE = "order_too_large", 400, "An order holds at most so many copies."
    HOLD_LIMIT_REACHED = (
        "hold_limit_reached",
        409,
        "Your pending orders hold as many copies as a customer may; wait until the shop confirms them, or cancel one.",
    )
    INSUFFICIENT_STOCK = "insufficient_stock", 409, "Fewer copies are available than the order asks for."
    INVALID_TRANSITION = "invalid_transition", 409, "The order's status does not allow that."
