"""An API request leaves nothing for the garbage collector: its objects go by reference
counting when it ends. Collecting cycles stops every thread of a gunicorn process, and
each request used to leave about 77 objects in them (ingestion/middleware.py)."""

import gc
import io
import json
import sys

import pytest
from django.core.handlers.wsgi import WSGIHandler

from ingestion import examples


def wsgi_post(handler, path: str, body: bytes, headers: dict) -> str:
    """The status of a POST through Django's WSGI handler, as gunicorn calls it."""
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "HTTP_HOST": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        **{
            "CONTENT_TYPE"
            if name == "Content-Type"
            else f"HTTP_{name.upper().replace('-', '_')}": value
            for name, value in headers.items()
        },
    }
    status = []
    response = handler(environ, lambda line, headers, exc=None: status.append(line))
    content = b"".join(response)
    response.close()
    assert status[0][:3] in ("200", "400"), content
    return status[0]


def _name(thing) -> str:
    return f"{type(thing).__module__}.{type(thing).__qualname__}"


# The request's own objects: Django's, DRF's and ours. (Under pytest something also
# looks a package's metadata up per request, and importlib.metadata's lookup table is
# a small cycle of its own; not under gunicorn, where bench/PROFILE.md counted none.)
REQUEST_PACKAGES = (
    "django.",
    "rest_framework.",
    "ingestion.",
    "datatalks.",
    "mappings.",
)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("body", "status"),
    [(examples.PROFILE, "200 OK"), ({"data": {}}, "400 Bad Request")],
    ids=["accepted", "refused"],
)
def test_an_api_request_leaves_no_reference_cycles(sign_post, body, status):
    handler = WSGIHandler()
    url = "http://testserver/v2/profiles"

    def post(data: dict) -> str:
        raw = json.dumps(data).encode()
        headers = sign_post(url, raw, {"Content-Type": "application/json"})
        return wsgi_post(handler, "/v2/profiles", raw, dict(headers))

    assert post(body) == status  # caches warm: the key, the mapping, the statement
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        assert post(body) == status
        gc.collect()
        left = [n for o in gc.garbage if (n := _name(o)).startswith(REQUEST_PACKAGES)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert left == [], left
