"""Prices of orders."""


def line_total(price: float, quantity: int) -> float:
    """The price of one order line."""
    if quantity < 0:
        raise ValueError("quantity must not be negative")
    return price * quantity


def order_total(lines: list[tuple[float, int]], discount_percent: float = 0.0) -> float:
    """The total of an order after a percentage discount, rounded to cents."""
    subtotal = sum(line_total(price, qty) for price, qty in lines)
    return round(subtotal * (1 - discount_percent), 2)
