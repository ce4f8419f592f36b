import pytest

from inventory.pricing import line_total, order_total


def test_line_total():
    assert line_total(2.5, 4) == 10.0


def test_negative_quantity_is_refused():
    with pytest.raises(ValueError):
        line_total(1.0, -1)


def test_total_without_discount():
    assert order_total([(10.0, 2), (0.5, 3)]) == 21.5


def test_discount_is_a_percentage():
    assert order_total([(10.0, 2)], discount_percent=10) == 18.0
