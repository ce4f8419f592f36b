"""Stock levels."""


class Stock:
    """Quantities on hand, by item name."""

    def __init__(self) -> None:
        self._items: dict[str, int] = {}

    def add(self, name: str, quantity: int) -> None:
        self._items[name] = self._items.get(name, 0) + quantity

    def remove(self, name: str, quantity: int) -> None:
        have = self._items.get(name, 0)
        if quantity > have:
            raise ValueError(f"only {have} {name} in stock")
        self._items[name] = have - quantity

    def count(self, name: str) -> int:
        return self._items.get(name, 0)
