"""The Python half of the shop example: a tax rule the Lua cart calls with funcs.call."""

from __future__ import annotations

from beamish import Error, ErrorKind

RATES = {"book": 0.0, "food": 0.07}
DEFAULT_RATE = 0.2


def tax(lines: list[dict]) -> dict:
    """Tax for cart lines ``[{item, price, qty}]``: per-item rates, rounded to cents."""
    if not isinstance(lines, list):
        raise Error("tax expects a list of cart lines", kind=ErrorKind.INVALID)
    subtotal = 0.0
    tax_total = 0.0
    for line in lines:
        amount = float(line["price"]) * int(line["qty"])
        subtotal += amount
        tax_total += amount * RATES.get(line["item"], DEFAULT_RATE)
    return {
        "subtotal": round(subtotal, 2),
        "tax": round(tax_total, 2),
        "total": round(subtotal + tax_total, 2),
    }
