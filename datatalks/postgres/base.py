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
from django.db.backends.postgresql import base, operations
from psycopg import _queries

# psycopg keeps a statement's placeholders parsed only when its text is at most 4,096
# characters long; longer ones are parsed again on every execute. The ingest's
# statement (ingestion/writes.py) is a handful of fixed texts of about 6,000: parsing it
# every time was 5 % of a single ingest's CPU at saturation (py-spy). The cache stays
# bounded (psycopg's LRU of 128 texts).
_queries.MAX_CACHED_STATEMENT_LENGTH = max(_queries.MAX_CACHED_STATEMENT_LENGTH, 16_384)


class DatabaseOperations(operations.DatabaseOperations):
    def last_executed_query(self, cursor, sql, params):
        # psycopg keeps no query text for a run of a prepared statement: the SQL as
        # written (placeholders and all) is what the query log shows for it.
        return super().last_executed_query(cursor, sql, params) or sql


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations

    def is_usable(self) -> bool:
        conn = self.connection
        if conn is None or conn.closed or conn.broken:
            return False
        return not _ended_by_server(conn)

    def get_connection_params(self):
        params = super().get_connection_params()
        # Only ``binding_cursor(prepared=True)`` prepares statements (Django's own
        # cursors bind on the client and never do; the unprepared binding cursor says
        # so on each execute), and their plan is made once per connection: the generic
        # plan. Django leaves psycopg's preparing off (None) unless asked, and this
        # replaces a prepare_threshold in OPTIONS. The generic plan also serves the
        # unprepared binding cursor's statements (PostgreSQL applies plan_cache_mode
        # to unnamed statements with parameters): the sync's outcome UPDATE measured
        # 0.033 ms of PostgreSQL's CPU a delivery with it, 0.041 without.
        params["prepare_threshold"] = 1
        options = params.get("options", "")
        params["options"] = f"{options} -c plan_cache_mode=force_generic_plan".strip()
        return params

    def binding_cursor(self, *, prepared: bool = False):
        """A Django cursor (errors translated, queries logged) that sends the values
        apart from the SQL text: psycopg's server-side binding, where a ``%(name)b``
        placeholder sends its value in binary.

        Django's own cursors bind on the client, writing every value into the SQL
        as a quoted literal: for a batch's columns (1,000-element arrays, one of them
        JSON strings) that quoting was a quarter of the request's CPU, and
        PostgreSQL then lexed it all again. A binary array costs next to nothing to
        write or to read.

        ``prepared``: each statement text is prepared once per connection and then
        runs on its generic plan (the connection's ``plan_cache_mode``), so
        PostgreSQL neither parses nor plans it again. For the single ingest's
        statement of data-modifying CTEs that planning was most of PostgreSQL's work
        (1.08 ms of CPU a run unprepared, 0.38 ms prepared, at 250,000 data points).
        Its arrays keep the text the same whatever the number of rows.
        """
        self.close_if_health_check_failed()
        self.ensure_connection()
        cursor = _PreparingCursor if prepared else _BindingCursor
        with self.wrap_database_errors:
            return self._prepare_cursor(cursor(self.connection))


class _BindingCursor(base.ServerBindingCursor):
    def execute(self, query, params=None, *, prepare=None, binary=None):
        return super().execute(query, params, prepare=False, binary=binary)


class _PreparingCursor(base.ServerBindingCursor):
    def execute(self, query, params=None, *, prepare=None, binary=None):
        return super().execute(query, params, prepare=True, binary=binary)


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
