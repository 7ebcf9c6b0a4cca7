import pytest

from calculator import add


@pytest.mark.parametrize("a, b, expected", [(1, 2, 3), (-1, 1, 0)])
def test_add(a, b, expected):
    assert add(a, b) == expected


def test_add_rejects_strings():
    with pytest.raises(TypeError):
        add("1", 2)
