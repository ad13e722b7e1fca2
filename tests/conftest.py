import pytest

from mappings.demo import demo_load


@pytest.fixture
def demo(db):
    """The demo customer from load_demo."""
    return demo_load()
