"""Fixtures the soak tests share: servers of the test's own, stopped at the end (a
private broker and the sandbox's account are tests/conftest.py's)."""

import pytest


@pytest.fixture
def servers(tmp_path):
    """Starts servers of the test's own and stops them all at the end."""
    started = []

    def start(server):
        started.append(server)
        return server.start()

    yield start
    for server in reversed(started):
        server.stop()
