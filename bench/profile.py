"""Where a gunicorn worker's time goes: py-spy's raw samples, summed by function.

py-spy samples every worker (``--subprocesses``) including idle moments (``--idle``), so
the shares are of wall time: time waiting for PostgreSQL or Redis counts where it is
spent. Samples outside a request (a worker waiting for a connection, the master) are
left out of the shares and counted apart.
"""

import re
from collections import Counter

# Where one request's time is spent, by the frame that is on the stack then. The first
# rule that matches a sample names it; every sample inside a request gets one.
COMPONENTS = [
    (
        "SigV4 authentication (incl. credential query)",
        "authenticate (ingestion/auth.py)",
    ),
    ("rate limit (counted in the process)", "allow_request (ingestion/throttling.py)"),
    ("JSON parsing", "parse (ingestion/parsers.py)"),
    ("validation", "validate_body (ingestion/validation.py)"),
    ("Celery enqueue after commit (Redis)", "wake_accounts (integrations/tasks.py)"),
    ("store: upsert, secondary ids, outbox", "_store (ingestion/services.py)"),
    (
        "write: the group's statement, or waiting for it (group commit)",
        "submit (ingestion/grouping.py)",
    ),
    ("commit", "__exit__ (django/db/transaction.py)"),
    ("request log INSERT", "_record (ingestion/middleware.py)"),
    ("response rendering", "rendered_content (rest_framework/response.py)"),
    ("rest of DRF's view dispatch", "dispatch (rest_framework/views.py)"),
    (
        "Django request handling and middleware",
        "get_response (django/core/handlers/base.py)",
    ),
    (
        "WSGI handler (request setup, signals, connections)",
        "__call__ (django/core/handlers/wsgi.py)",
    ),
    ("gunicorn: HTTP parsing and socket IO", "(gunicorn/"),
]
# Cross-cutting: any frame of these packages on the stack.
LIBRARIES = [
    ("waiting on / talking to PostgreSQL (psycopg)", "(psycopg/"),
    ("Redis client (redis-py, kombu)", ("(redis/", "(kombu/")),
    ("Django ORM (query building, model instances)", "(django/db/models/"),
]
_IN_REQUEST = "handle_request (gunicorn/workers/"
_FRAME = re.compile(r"^(.*) \((.*?)(?::\d+)?\)$")


def parse_raw(text: str) -> Counter:
    """py-spy ``--format raw`` lines (``frame;frame;... count``) as stack -> samples."""
    stacks: Counter = Counter()
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            frames = tuple(
                _short(f) for f in stack.split(";") if not f.startswith("process ")
            )
            stacks[frames] += int(count)
    return stacks


def _short(frame: str) -> str:
    match = _FRAME.match(frame)
    if not match:
        return frame
    name, path = match.groups()
    for marker in ("site-packages/", "/work/main/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})"


def summarize(stacks: Counter, top: int = 15) -> dict:
    """Shares of request time by component, library and function (self and total)."""
    in_request = {s: n for s, n in stacks.items() if any(_IN_REQUEST in f for f in s)}
    total = sum(in_request.values())
    outside = sum(stacks.values()) - total
    if not total:
        return {"samples": 0, "samples_outside_requests": outside}
    components: Counter = Counter()
    libraries: Counter = Counter()
    inclusive: Counter = Counter()
    leaf: Counter = Counter()
    for stack, count in in_request.items():
        components[_component(stack)] += count
        for name, markers in LIBRARIES:
            if any(m in f for f in stack for m in _tuple(markers)):
                libraries[name] += count
        for frame in set(stack):
            inclusive[frame] += count
        leaf[stack[-1]] += count
    return {
        "samples": total,
        "samples_outside_requests": outside,
        "components": _shares(components, total),
        "libraries": _shares(libraries, total),
        "top_self": _shares(leaf, total, top),
        "top_total": _shares(_interesting(inclusive), total, top),
    }


def _component(stack: tuple[str, ...]) -> str:
    for name, marker in COMPONENTS:
        if any(marker in frame for frame in stack):
            return name
    return "other"


def _tuple(markers) -> tuple:
    return markers if isinstance(markers, tuple) else (markers,)


def _interesting(inclusive: Counter) -> Counter:
    """Total time by function, without the frames every request passes through."""
    boring = ("(gunicorn/", "(django/core/handlers/", "(django/utils/deprecation.py")
    boring += ("(whitenoise/", "(datatalks/middleware.py", "(<frozen", "(threading.py")
    boring += ("(concurrent/futures/",)
    return Counter(
        {f: n for f, n in inclusive.items() if not any(b in f for b in boring)}
    )


def _shares(counter: Counter, total: int, top: int | None = None) -> list[dict]:
    return [
        {"name": name, "share": round(count / total, 3), "samples": count}
        for name, count in counter.most_common(top)
    ]
