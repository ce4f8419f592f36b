"""A tiny shop inventory."""

from inventory.pricing import order_total
from inventory.stock import Stock

__all__ = ["Stock", "order_total"]
