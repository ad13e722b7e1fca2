"""Work run in several threads at once, as concurrent requests or workers would."""

import threading
from collections.abc import Callable

from django.db import connection


def in_threads(target: Callable[[], object], count: int, timeout: float = 60) -> None:
    """Runs ``target`` in ``count`` threads at once and waits for them all (up to
    ``timeout`` seconds each). Each thread closes the database connection Django
    opened for it, so the test database can be dropped afterwards."""

    def run():
        try:
            target()
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
