"""Every route into and out of the orders context, in one place."""

from messaging.registry import Registry

from . import commands, events, handlers, invariants, mails, policies, queries, refusals


def register(registry: Registry) -> None:
    registry.register_handler(commands.PlaceOrder, handlers.place_order)
    registry.register_handler(commands.ConfirmOrder, handlers.confirm_order)
    registry.register_handler(commands.ShipOrder, handlers.ship_order)
    registry.register_handler(commands.CancelOrder, handlers.cancel_order)
    registry.register_handler(commands.ExpireOrder, handlers.expire_order)
    registry.register_schedulable(commands.ExpireOrder)

    registry.register_events_of(events)
    registry.register_refusals(refusals.OrderRefusal)

    # A policy's name is its identity (its delivery rows carry it): it stays when the
    # function is renamed or moved (docs/operations.md, "Renaming, retiring and upgrading").
    registry.subscribe(
        events.OrderCancelled,
        policies.release_stock_on_cancel,
        name="orders.policies.release_stock_on_cancel",
        locks=policies.lock_released_stock,
    )
    registry.subscribe(events.OrderConfirmed, policies.mail_confirmation, name="orders.policies.mail_confirmation")
    registry.subscribe(events.OrderShipped, policies.mail_shipment, name="orders.policies.mail_shipment")
    registry.subscribe(
        events.OrderExpired,
        policies.release_stock_on_expiry,
        name="orders.policies.release_stock_on_expiry",
        locks=policies.lock_released_stock,
    )
    registry.subscribe(events.OrderExpired, policies.mail_expiry, name="orders.policies.mail_expiry")
    # An order's mails go out in the order they were queued (its events'
    # order): a confirmation waiting for its retry holds back the "shipped".
    registry.register_mail_renderer(mails.CONFIRMED_MAIL, mails.confirmed, in_order=True)
    registry.register_mail_renderer(mails.SHIPPED_MAIL, mails.shipped, in_order=True)
    registry.register_mail_renderer(mails.EXPIRED_MAIL, mails.expired, in_order=True)

    registry.register_personal_data("orders", queries.personal_orders)

    registry.register_invariant(invariants.open_orders_hold_exactly_their_stock)
    registry.register_invariant(invariants.each_customer_holds_what_their_pending_orders_hold)
