"""Python side of the order pipeline: the shared price function, the saga steps (which
run as Temporal activities when the saga workflow calls them), the supervised checker
workers and the feeder that plays the customers."""

from __future__ import annotations

import logging
from typing import Any

from beamish import Context, Error, ErrorKind, EventKind

log = logging.getLogger("orders")

TAX = 0.10
FRAUD_LIMIT = 1000.0

#: The demo customers. Each order exercises one path through the pipeline.
ORDERS: list[dict[str, Any]] = [
    {"id": "o-1", "lines": [{"item": "book", "qty": 2, "unit_price": 12.5}],
     "card": "visa", "address": "1 Main St"},
    {"id": "o-2", "lines": [{"item": "lamp", "qty": 1, "unit_price": 40.0}],
     "card": "declined", "address": "2 Oak Ave"},  # charge fails: inventory released
    {"id": "o-3", "lines": [{"item": "pen", "qty": 3, "unit_price": 1.5}],
     "card": "visa", "address": ""},  # shipping fails: refund, then release
    {"id": "o-4", "lines": [{"item": "laptop", "qty": 1, "unit_price": 1500.0}],
     "card": "visa", "address": "4 Elm Rd"},  # the checker rejects it (fraud limit)
    {"id": "o-5", "lines": [{"item": "mug", "qty": 2, "unit_price": 8.0}],
     "card": "visa", "address": "5 Pine Ct", "crash_checker": True},  # checker restarts
    {"id": "o-6", "lines": [{"item": "chair", "qty": 1, "unit_price": 60.0}],
     "card": "amex", "address": "6 Birch Ln"},
]


# -- the function every compute unit calls ---------------------------------------------


def price(order: dict[str, Any]) -> float:
    """Total of an order with tax. Called by intake (Lua), checkers (Python) and the
    saga workflow (Lua, as a Temporal activity)."""
    lines = order.get("lines") or []
    if not lines:
        raise Error(f"order {order.get('id')} has no lines", kind=ErrorKind.INVALID)
    subtotal = sum(float(li["qty"]) * float(li["unit_price"]) for li in lines)
    return round(subtotal * (1 + TAX), 2)


# -- saga steps (Temporal activities) --------------------------------------------------


def reserve(order: dict[str, Any]) -> dict[str, Any]:
    items = ", ".join(f"{li['qty']}x {li['item']}" for li in order["lines"])
    log.info("   [%s] reserved %s", order["id"], items)
    return {"reservation": f"r-{order['id']}", "order": order["id"]}


def release(reservation: dict[str, Any]) -> bool:
    log.info("   [%s] compensation: released %s", reservation["order"], reservation["reservation"])
    return True


def charge(order: dict[str, Any], amount: float) -> dict[str, Any]:
    if order.get("card") == "declined":
        raise Error(f"card declined for {amount:.2f}", kind=ErrorKind.INVALID, retryable=False)
    log.info("   [%s] charged %.2f to %s", order["id"], amount, order["card"])
    return {"payment": f"p-{order['id']}", "order": order["id"], "amount": amount}


def refund(payment: dict[str, Any]) -> bool:
    log.info("   [%s] compensation: refunded %.2f", payment["order"], payment["amount"])
    return True


def ship(order: dict[str, Any]) -> dict[str, Any]:
    if not order.get("address"):
        raise Error("no shipping address", kind=ErrorKind.INVALID, retryable=False)
    log.info("   [%s] shipped to %s", order["id"], order["address"])
    return {"tracking": f"t-{order['id']}"}


# -- the checker pool (supervised Python processes) ------------------------------------


async def checker(ctx: Context, name: str) -> str:
    """Check orders sent on topic "check" and reply "checked" to the sender.

    An order marked ``crash_checker`` makes this worker crash right after replying, to
    show the supervisor restarting it under the same name.
    """
    inbox, events = ctx.inbox(), ctx.events()
    while True:
        ch, item = await ctx.select([events, inbox])
        if ch is events:
            if item.kind is EventKind.CANCEL:
                return "stopped"
            continue
        order = item.data
        total = await ctx.call("orders:price", order)
        ok = total <= FRAUD_LIMIT
        reason = "" if ok else f"total {total:.2f} is over the {FRAUD_LIMIT:.0f} limit"
        ctx.send(item.sender, "checked", {"order": order, "ok": ok, "reason": reason, "by": name})
        if order.get("crash_checker"):
            log.warning("%s crashes after checking %s (on purpose)", name, order["id"])
            raise RuntimeError(f"{name} crashed after checking {order['id']}")


# -- the customers ---------------------------------------------------------------------


async def feeder(ctx: Context, interval: float) -> str:
    """Send the demo orders to the intake service, one every ``interval`` seconds."""
    events = ctx.events()
    ctx.send("intake", "expect", len(ORDERS))
    for order in ORDERS:
        log.info("customer places %s", order["id"])
        ctx.send("intake", "order", order)
        got = await ctx.select([events], timeout=interval)
        if got is not None and got[1].kind is EventKind.CANCEL:
            return "stopped"
    while (await events.receive()).kind is not EventKind.CANCEL:
        pass
    return "done"
