"""Django's PostgreSQL backend with a health check that costs no round trip, and a
cursor that binds values on the server (``binding_cursor``).

``CONN_HEALTH_CHECKS`` makes Django check a kept connection before a request first
uses it. The stock check is a ``SELECT 1``: a round trip on every request, as much as
the ingest's one statement. This one looks at the socket instead: between queries the
server sends nothing, so a readable socket means it ended the session (a restart, a
crash, a terminated backend: a FATAL message, then the end of the stream). A server
that vanished without closing the socket is not seen here; the request's first query
then fails with a clean 503 and Django drops the connection.
"""

import select

import psycopg
from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        conn = self.connection
        if conn is None or conn.closed or conn.broken:
            return False
        return not _ended_by_server(conn)

    def binding_cursor(self):
        """A Django cursor (errors translated, queries logged) that sends the values
        apart from the SQL text: psycopg's server-side binding, where a ``%(name)b``
        placeholder sends its value in binary.

        Django's own cursors bind on the client, writing every value into the SQL
        as a quoted literal: for a batch's columns (1,000-element arrays, one of them
        JSON strings) that quoting was a quarter of the request's CPU, and
        PostgreSQL then lexed it all again. A binary array costs next to nothing to
        write or to read.
        """
        self.close_if_health_check_failed()
        self.ensure_connection()
        with self.wrap_database_errors:
            return self._prepare_cursor(base.ServerBindingCursor(self.connection))


def _ended_by_server(conn: psycopg.Connection) -> bool:
    # poll, not select: select takes no descriptor past 1,023, and a gthread worker
    # with many kept-alive clients has more open (a connection past it was taken for
    # ended, and replaced before every request).
    try:
        readable = select.poll()
        readable.register(conn.fileno(), select.POLLIN)
    except (OSError, ValueError, psycopg.OperationalError):
        return True
    # The FATAL message and the end of the stream may need a read each.
    for _ in range(3):
        try:
            if not readable.poll(0):
                return False
        except OSError:
            return True
        try:
            conn.pgconn.consume_input()
        except psycopg.OperationalError:
            return True
        if conn.pgconn.status != psycopg.pq.ConnStatus.OK:
            return True
    return False
