import pytest

from flowhelp import ORDER, runtime


@pytest.fixture
def order_rt():
    return runtime(ORDER)
