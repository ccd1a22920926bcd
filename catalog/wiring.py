"""Every route into and out of the catalog context, in one place."""

from messaging.registry import Registry

from . import commands, events, handlers, invariants, policies, queries, refusals


def register(registry: Registry) -> None:
    registry.register_handler(commands.AddBook, handlers.add_book)
    registry.register_handler(commands.StockNewBook, handlers.stock_new_book)
    registry.register_handler(commands.RestockBook, handlers.restock_book)
    registry.register_handler(commands.ChangeBookPrice, handlers.change_book_price)
    registry.register_handler(commands.ReleaseStock, handlers.release_stock)

    registry.register_events_of(events)
    registry.register_refusals(refusals.CatalogRefusal)

    # A policy's name is its identity (its delivery rows carry it): it stays when the
    # function is renamed or moved (docs/operations.md, "Renaming, retiring and upgrading").
    registry.subscribe(events.BookAdded, policies.stock_new_book, name="catalog.policies.stock_new_book")

    registry.register_reference("isbn:", queries.book_id_for_isbn)
    registry.register_namer("book", queries.titles)

    registry.register_invariant(invariants.stock_is_never_negative)
    registry.register_invariant(invariants.reserved_is_what_reservations_hold)
