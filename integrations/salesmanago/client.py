"""HTTP client for Salesmanago: API v2 for contacts and events, API v3 for products.

Only HTTP lives here: the caller builds the items (payloads.py) and decides what to do
with the results. Every call either returns one ItemResult per item, in the caller's
order with the exchange (``Sent``), or raises SalesmanagoError for the call as a whole
(with the exchange, when a call was made). Credentials never reach a log line, an
exception or an exchange.
"""

import datetime as dt
import hashlib
import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from decimal import Decimal
from email.utils import parsedate_to_datetime
from http.client import HTTPException
from typing import Any
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import HTTPError, NewConnectionError
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from .addresses import (
    AddressPolicy,
    AddressRefused,
    PinnedAdapter,
    check_url,
    policy_from_settings,
)
from .errors import Exchange, SalesmanagoError
from .limits import MAX_CONTACTS, MAX_EVENTS, MAX_PRODUCTS
from .metrics import call_observe
from .results import (
    ItemResult,
    contact_results,
    event_id_result,
    event_results,
    product_results,
    texts,
)

logger = logging.getLogger(__name__)

EXCERPT_CHARS = 4000
# What staff see of an answer: Salesmanago's messages fit; a page of anything else does
# not need to.
RESPONSE_EXCERPT_CHARS = 1000

BASIC_PATH = "/api/contact/basic"
CONTACTS_PATH = "/api/contact/batchupsert"
DELETE_PATH = "/api/contact/delete"
EVENTS_PATH = "/api/v2/contact/addBatchContactExtEvent"
# The single add is the only add that answers the new event's eventId; the update names
# the event by it (the official PHP SDK's ConnectSalesManagoService::contactExtEvent
# posts one or the other; reference §6).
EVENT_ADD_PATH = "/api/v2/contact/addContactExtEvent"
EVENT_UPDATE_PATH = "/api/v2/contact/updateContactExtEvent"
PRODUCTS_PATH = "/v3/product/upsert"

_V2_HEADERS = {
    "Accept": "application/json, application/json",
    "Content-Type": "application/json;charset=UTF-8",
}
_V3_HEADERS = {"Accept": "application/json", "Content-Type": "application/json"}
_SECRET_KEYS = frozenset({"apiKey", "sha", "apiSecret", "API-KEY"})
_REDACTED = "[redacted]"
# Secrets shorter than this cannot be scrubbed from a text without revealing them; the
# admin refuses them (integrations/admin.py), so only an older account can hold one.
MIN_SCRUBBED_CHARS = 8
_TOO_SHORT_TO_SCRUB = (
    "[withheld: a credential of this account is too short to be scrubbed from it]"
)


@dataclass(frozen=True)
class Credentials:
    """One Salesmanago account: the v2 server, the v3 host and their credentials."""

    base_url: str
    v3_base_url: str
    client_id: str
    api_secret: str = field(repr=False)
    owner: str
    v3_api_key: str = field(repr=False)
    timeout: float = 30.0


@dataclass(frozen=True)
class Sent:
    """A batch call's outcome: one ItemResult per item, in order, and the exchange."""

    results: list[ItemResult]
    exchange: Exchange


def v2_sha(api_key: str, client_id: str, api_secret: str) -> str:
    """The v2 signature: SHA-1 of apiKey + clientId + apiSecret, lowercase hex."""
    text = api_key + client_id + api_secret
    return hashlib.sha1(text.encode()).hexdigest()  # noqa: S324  the protocol's hash


class SalesmanagoClient:
    """Sends batches to one Salesmanago account and maps the answers to the items.

    Every URL is checked against ``policy`` (the settings' by default) and every
    connection goes only to an address it allows (addresses.py). Events go one call
    each, many at once from one thread (EventWave), over the session's connections.
    """

    def __init__(
        self,
        credentials: Credentials,
        *,
        session: requests.Session | None = None,
        policy: AddressPolicy | None = None,
        connections: int = 10,
    ):
        self.credentials = credentials
        self.policy = policy or policy_from_settings()
        self.session = session or requests.Session()
        # No proxy, .netrc or CA bundle from the environment: only the checked address.
        self.session.trust_env = False
        # Kept-alive connections per host: as many as calls made at once.
        adapter = PinnedAdapter(self.policy, pool_maxsize=connections)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def upsert_contacts(self, items: list[dict]) -> Sent:
        """Creates or updates contacts (upsertDetails entries) with one batchupsert."""
        _check_count("contacts", items, MAX_CONTACTS)
        # No double opt-in e-mail: consent is the items' force flags (payloads.py).
        body = {"upsertDetails": items, "useApiDoubleOptIn": False}
        data, exchange = self._post_v2(CONTACTS_PATH, body)
        return Sent(contact_results(items, data), exchange)

    def delete_contact(self, email: str) -> Exchange:
        """Deletes one contact for good (``permanently``: not only hidden).

        The e-mail is kept out of the exchange. Some servers answer a delete with an
        empty HTTP 200 rather than JSON (reference §4): that is a success too.
        """
        payload = {"email": email, "permanently": True}
        try:
            _, exchange = self._post_v2(DELETE_PATH, payload, hidden=(email,))
        except SalesmanagoError as exc:
            answered = exc.exchange.response.strip() if exc.exchange else "?"
            if exc.status is not None and 200 <= exc.status < 300 and not answered:
                return exc.exchange
            raise
        return exchange

    def contacts_modified_on(self, emails: list[str]) -> dict[str, int]:
        """When each existing contact was last modified (epoch ms), by lower-cased
        email, from /api/contact/basic; contacts that do not exist are absent."""
        data, _ = self._post_v2(BASIC_PATH, {"email": emails})
        return {
            str(c["email"]).lower(): int(c.get("modifiedOn") or 0)
            for c in data.get("contacts") or []
            if isinstance(c, dict) and c.get("email")
        }

    def add_events(self, items: list[dict]) -> Sent:
        """Adds external events ({email|contactId, contactEvent}) in one batch call."""
        _check_count("events", items, MAX_EVENTS)
        data, exchange = self._post_v2(EVENTS_PATH, {"events": items})
        return Sent(event_results(items, data), exchange)

    def event_wave(self, calls: list[tuple[dict, str | None]]) -> "EventWave":
        """Event calls to make at once: (item, eventId or None to add it) each."""
        return EventWave(self, calls)

    def upsert_products(self, catalog_id: str, products: list[dict]) -> Sent:
        """Creates or updates products in a catalog with one v3 upsert."""
        if not catalog_id:
            raise ValueError("upsert_products needs a catalog id")
        _check_count("products", products, MAX_PRODUCTS)
        body = {"catalogId": catalog_id, "products": products}
        status, data, exchange = self._post_v3(PRODUCTS_PATH, body)
        return Sent(product_results(products, status, data), exchange)

    def _post_v2(
        self, path: str, payload: dict, *, hidden: tuple[str, ...] = ()
    ) -> tuple[dict, Exchange]:
        """POSTs with fresh v2 credentials; returns the body once it says success.

        ``hidden``: more values (a person's e-mail) kept out of the exchange."""
        body, hidden = self._v2_body(payload, hidden)
        status, data, exchange = self._post(
            self.credentials.base_url, path, body, _V2_HEADERS, hidden
        )
        return _v2_success(status, data, exchange, hidden), exchange

    def _v2_body(self, payload: dict, hidden: tuple[str, ...]) -> tuple[dict, tuple]:
        """The body with fresh v2 credentials, and every secret it holds."""
        api_key = secrets.token_hex(16)
        creds = self.credentials
        body = {
            "clientId": creds.client_id,
            "apiKey": api_key,
            "requestTime": int(time.time() * 1000),
            "sha": v2_sha(api_key, creds.client_id, creds.api_secret),
            "owner": creds.owner,
            **payload,
        }
        hidden = (creds.api_secret, creds.v3_api_key, api_key, body["sha"], *hidden)
        return body, hidden

    def _post_v3(self, path: str, body: dict) -> tuple[int, dict, Exchange]:
        """POSTs with the API-KEY header; raises on a top-level rejection."""
        creds = self.credentials
        headers = {**_V3_HEADERS, "API-KEY": creds.v3_api_key}
        hidden = (creds.api_secret, creds.v3_api_key)
        status, data, exchange = self._post(
            creds.v3_base_url, path, body, headers, hidden
        )
        if "reasonCode" in data or not (200 <= status < 300 or data.get("problems")):
            text = _scrub(_v3_message(data, status), hidden)
            raise SalesmanagoError(
                text, permanent=True, status=status, exchange=exchange
            )
        return status, data, exchange

    def _post(
        self, base: str, path: str, body: dict, headers: dict, hidden: tuple[str, ...]
    ) -> tuple[int, dict, Exchange]:
        """One POST and its exchange; raises on transport and transient errors."""
        url = base.rstrip("/") + path
        started = time.monotonic()
        request = _excerpt(_without_secrets(body), hidden)
        data = encode_json(body)
        try:
            check_url(base, self.policy)
            prepared = self.session.prepare_request(
                requests.Request("POST", url, data=data, headers=headers)
            )
            response = self.session.send(
                prepared,
                timeout=self.credentials.timeout,
                # A redirect would turn the POST into a GET and lose the body.
                allow_redirects=False,
            )
        except (AddressRefused, requests.RequestException) as exc:
            raise self._not_answered(exc, started, url, request, hidden) from exc
        text = _scrub(response.text, hidden)
        status = response.status_code
        exchange = self._record(started, url, request, status, text)
        data = _answer(status, response.headers, response.text, hidden, exchange)
        return status, data, exchange

    def _not_answered(
        self, exc: Exception, started: float, url: str, request: str, hidden: tuple
    ) -> SalesmanagoError:
        """The error of a call that got no answer, with its exchange."""
        if isinstance(exc, AddressRefused):
            exchange = self._record(started, url, request, None, "refused")
            return SalesmanagoError(
                f"Refused to connect: {exc}", permanent=True, exchange=exchange
            )
        exchange = self._record(started, url, request, None, type(exc).__name__)
        return _transport_error(exc, self.credentials.timeout, hidden, exchange)

    def _pool(self, url: str):
        """The session's kept-alive connections to ``url``'s host, with its TLS
        settings (the same ones session.send uses)."""
        probe = requests.Request("POST", url).prepare()
        adapter = self.session.get_adapter(url)
        return adapter.get_connection_with_tls_context(
            probe, self.session.verify, cert=self.session.cert
        )

    def _record(
        self, started: float, url: str, request: str, status: int | None, text: str
    ) -> Exchange:
        elapsed = (time.monotonic() - started) * 1000
        code = str(status) if status is not None else text
        call_observe(path=urlsplit(url).path, code=code, seconds=elapsed / 1000)
        logger.info(
            "Salesmanago POST %s -> %s in %.0f ms",
            url,
            status if status is not None else "no answer",
            elapsed,
            extra={"salesmanago_client_id": self.credentials.client_id},
        )
        return Exchange(
            "POST",
            url,
            request,
            status,
            text[:RESPONSE_EXCERPT_CHARS],
            round(elapsed, 1),
        )


@dataclass
class _Call:
    """One event call of a wave: its request, ready to go, and its connection."""

    url: str
    target: str  # the request line's path
    data: bytes
    hidden: tuple[str, ...]
    excerpt: str
    event_id: str | None
    conn: Any = None
    started: float = 0.0


class EventWave:
    """Event calls made at once from the calling thread: every request is built first,
    all those the caller lets go are written to their own kept-alive connection
    (``send``), and only then is any answer read (``answers``), so the calls wait for
    Salesmanago together while no thread per call contends for the interpreter.

    Built requests are sent only by ``send``: the caller marks them on the wire in
    between (a worker that dies after its mark leaves the call in doubt, never sent
    twice). One call's failure is its own: its answer is a SalesmanagoError (or, for a
    fault of ours, the exception) while its neighbours go on. A request written whose
    answer never came is ``in_doubt`` (see _sent_unanswered).
    """

    def __init__(self, client: SalesmanagoClient, calls: list[tuple[dict, str | None]]):
        self.client = client
        self.base = client.credentials.base_url
        self.calls: list[_Call | None] = []
        self.outcomes: list = [None] * len(calls)
        self.pool = None
        for index, (item, event_id) in enumerate(calls):
            try:
                self.calls.append(self._call(item, event_id))
            except Exception as exc:
                self.calls.append(None)
                self.outcomes[index] = exc

    def _call(self, item: dict, event_id: str | None) -> _Call:
        if event_id:
            event = {**item.get("contactEvent", {}), "eventId": event_id}
            path, payload = EVENT_UPDATE_PATH, {**item, "contactEvent": event}
        else:
            path, payload = EVENT_ADD_PATH, item
        body, hidden = self.client._v2_body(payload, ())
        url = self.base.rstrip("/") + path
        excerpt = _excerpt(_without_secrets(body), hidden)
        target = urlsplit(url).path
        return _Call(url, target, encode_json(body), hidden, excerpt, event_id)

    def send(self, indexes) -> None:
        """Writes the requests of these calls; the others are never sent."""
        pool = self.pool
        for index in indexes:
            call = self.calls[index]
            if call is None:
                continue
            call.started = time.monotonic()
            try:
                check_url(self.base, self.client.policy)
                pool = pool or self.client._pool(call.url)
                call.conn = pool._get_conn()
                call.conn.timeout = self.client.credentials.timeout
                call.conn.request(
                    "POST", call.target, body=call.data, headers=_V2_HEADERS
                )
            except Exception as exc:
                self.outcomes[index] = self._failed(call, exc, pool)
        self.pool = pool

    def answers(self) -> list:
        """Each call's answer, in order: Sent, SalesmanagoError, another exception for
        a fault of ours, or None for a call not sent. Every call sent gets the
        client's timeout from when it was sent, not one after another."""
        for index, call in enumerate(self.calls):
            if call is None or call.conn is None or self.outcomes[index] is not None:
                continue
            try:
                self.outcomes[index] = self._answer(call)
            except Exception as exc:
                self.outcomes[index] = exc
        return self.outcomes

    def _answer(self, call: _Call) -> Sent:
        client = self.client
        timeout = client.credentials.timeout
        call.conn.timeout = max(0.001, call.started + timeout - time.monotonic())
        try:
            response = call.conn.getresponse()
            text = response.data.decode("utf-8", "replace")
        except Exception as exc:
            return _sent_unanswered(self._failed(call, exc, self.pool))
        self.pool._put_conn(call.conn)
        status = response.status
        exchange = client._record(
            call.started, call.url, call.excerpt, status, _scrub(text, call.hidden)
        )
        try:
            data = _answer(status, response.headers, text, call.hidden, exchange)
            data = _v2_success(status, data, exchange, call.hidden)
        except SalesmanagoError as exc:
            return exc
        result = event_id_result(data)
        return Sent([result], exchange)

    def _failed(self, call: _Call, exc: Exception, pool) -> Exception:
        """A call that got no answer: its connection is dropped, the error kept."""
        if call.conn is not None:
            call.conn.close()
            pool._put_conn(None)  # frees its place in the pool
            call.conn = None
        if isinstance(exc, (AddressRefused, OSError, HTTPException, HTTPError)):
            return self.client._not_answered(
                exc, call.started, call.url, call.excerpt, call.hidden
            )
        return exc


def _sent_unanswered(failure: Exception) -> Exception:
    """A call whose request was written (``send`` raised nothing) but whose answer
    never came: Salesmanago may have done it, so a transient failure is in doubt.
    A failure in ``send`` (refused or timed out at connect, an address refused) left
    nothing complete on the wire and stays a plain one."""
    if isinstance(failure, SalesmanagoError) and not failure.permanent:
        failure.in_doubt = True
    return failure


# -- answers ---------------------------------------------------------------------------


def _v2_success(status: int, data: dict, exchange: Exchange, hidden: tuple) -> dict:
    """A v2 answer's body once it says success; SalesmanagoError otherwise."""
    if data.get("success") is not True or not 200 <= status < 300:
        text = _scrub(_v2_message(data, status), hidden)
        raise SalesmanagoError(text, permanent=True, status=status, exchange=exchange)
    return data


def _answer(
    status: int, headers, text: str, hidden: tuple[str, ...], exchange: Exchange
) -> dict:
    """The JSON object of an answer, or SalesmanagoError for everything else.
    ``headers``: the answer's, looked up without regard to case."""
    if status == 429 or status >= 500:
        raise SalesmanagoError(
            f"Salesmanago answered HTTP {status}",
            permanent=False,
            retry_after=retry_after_seconds(headers.get("Retry-After")),
            status=status,
            exchange=exchange,
        )
    if 300 <= status < 400:
        where = _scrub(headers.get("Location", "?"), hidden)
        raise SalesmanagoError(
            f"Salesmanago redirected to {where} (HTTP {status}); check the server URL",
            permanent=True,
            status=status,
            exchange=exchange,
        )
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        return data
    # A 2xx without a JSON object is a proxy or an overloaded server: worth a retry.
    success = 200 <= status < 300
    problem = "a body that is not a JSON object" if success else f"HTTP {status}"
    raise SalesmanagoError(
        f"Salesmanago answered {problem}",
        permanent=not success,
        status=status,
        exchange=exchange,
    )


def _transport_error(
    exc: Exception, timeout: float, hidden: tuple[str, ...], exchange: Exchange
) -> SalesmanagoError:
    """Timeouts and broken connections are transient; a malformed URL is not.
    ``exc``: requests' errors, or urllib3's and the socket's in an EventWave (whose
    refused connection, NewConnectionError, is a urllib3 timeout only by descent)."""
    timeouts = (requests.Timeout, TimeoutError, Urllib3Timeout)
    if isinstance(exc, timeouts) and not isinstance(exc, NewConnectionError):
        message = f"Salesmanago did not answer within {timeout:g} s"
        return SalesmanagoError(message, permanent=False, exchange=exchange)
    config = (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema)
    config += (requests.exceptions.InvalidSchema, requests.exceptions.InvalidHeader)
    detail = _scrub(str(exc), hidden)[:500]
    if isinstance(exc, config):
        message = f"Invalid Salesmanago request: {detail}"
        return SalesmanagoError(message, permanent=True, exchange=exchange)
    message = f"Cannot reach Salesmanago: {detail}"
    return SalesmanagoError(message, permanent=False, exchange=exchange)


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: either a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def _v2_message(data: dict, status: int) -> str:
    text = "; ".join(texts(data.get("message")))
    if text:
        return text
    if not 200 <= status < 300:
        return f"Salesmanago answered HTTP {status}"
    return "Salesmanago answered success: false without a message"


def _v3_message(data: dict, status: int) -> str:
    text = "; ".join(texts(data.get("messages")))
    text = text or f"Salesmanago answered HTTP {status}"
    code = data.get("reasonCode")
    return f"{text} (reasonCode {code})" if code is not None else text


# -- helpers ---------------------------------------------------------------------------


def _check_count(name: str, items: list, limit: int) -> None:
    if not 1 <= len(items) <= limit:
        raise ValueError(f"{len(items)} {name} given; one call takes 1 to {limit}")


def encode_json(value: Any) -> bytes:
    """The JSON sent to Salesmanago; ValueError for NaN or infinity, which JSON lacks
    (Python would write them as bare words that make the whole call fail)."""
    return json.dumps(
        value, ensure_ascii=False, allow_nan=False, default=_json_default
    ).encode()


def _json_default(value: Any) -> Any:
    """Decimals are numbers to Salesmanago; JSON has no other way to say so."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _without_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _without_secrets(v) for k, v in value.items() if k not in _SECRET_KEYS
        }
    if isinstance(value, list):
        return [_without_secrets(v) for v in value]
    return value


def _excerpt(body: dict, hidden: tuple[str, ...]) -> str:
    text = encode_json(body).decode()
    return _scrub(text, hidden)[:EXCERPT_CHARS]


def _scrub(text: str, hidden: tuple[str, ...]) -> str:
    """Replaces any credential a server might echo back.

    A value shorter than MIN_SCRUBBED_CHARS would be replaced wherever its letters
    occur, and the gaps would spell it out: then the whole text is withheld.
    """
    values = [secret for secret in hidden if secret]
    if any(len(secret) < MIN_SCRUBBED_CHARS for secret in values):
        return _TOO_SHORT_TO_SCRUB
    for secret in values:
        text = text.replace(secret, _REDACTED)
    return text
