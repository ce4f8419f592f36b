import pytest

from inventory.stock import Stock


def test_add_and_count():
    stock = Stock()
    stock.add("apple", 3)
    assert stock.count("apple") == 3


def test_cannot_remove_more_than_in_stock():
    stock = Stock()
    stock.add("pear", 1)
    with pytest.raises(ValueError):
        stock.remove("pear", 2)
