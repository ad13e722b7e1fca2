"""Where the Salesmanago client may connect, checked when an account is saved and again
on every connection.

An account's URL is typed by staff, and the worker sends the account's secrets there
and keeps part of the answer: so only Salesmanago's own hosts are reachable (an
allow-list of domains), over HTTPS, by name (no IP literals), without user-info, query,
fragment or path. Every address a name resolves to must be public: a private,
loopback, link-local or otherwise special address refuses the whole name. The check at
connection time resolves once and connects to the address it checked (``PinnedAdapter``),
so a name that answers differently the second time (DNS rebinding) cannot slip through.

The local sandbox is the one exception: loopback addresses (``127.0.0.1``, ``::1``,
``localhost``), over HTTP, with any port and path, when ``allow_loopback`` is set (development
and tests; see ``SALESMANAGO_ALLOW_LOOPBACK``).
"""

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util import connection as urllib3_connection

LOOPBACK_NAMES = frozenset({"localhost"})
Resolver = Callable[..., list]


class AddressRefused(Exception):
    """A URL or an address the client must not connect to; the message says why."""


@dataclass(frozen=True)
class AddressPolicy:
    """What the client may reach. ``allowed_domains``: a host must be one of them or a
    subdomain of one. ``resolve`` is ``socket.getaddrinfo`` except in tests of
    resolvers' answers."""

    allowed_domains: tuple[str, ...]
    allow_loopback: bool = False
    resolve: Resolver = field(default=socket.getaddrinfo, compare=False, repr=False)


def policy_from_settings() -> AddressPolicy:
    """The deployment's policy (SALESMANAGO_ALLOWED_HOSTS, SALESMANAGO_ALLOW_LOOPBACK)."""
    from django.conf import settings

    return AddressPolicy(
        allowed_domains=tuple(settings.SALESMANAGO_ALLOWED_HOSTS),
        allow_loopback=settings.SALESMANAGO_ALLOW_LOOPBACK,
    )


def check_url(url: str, policy: AddressPolicy) -> None:
    """Raises AddressRefused unless ``url`` is a server URL the policy allows (no DNS)."""
    if any(c in url for c in "?#@\\") or any(c.isspace() for c in url):
        raise AddressRefused(
            "A server URL has no user name, password, query or fragment "
            "(no @, ?, # or \\)."
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a port out of range)
    except ValueError as exc:
        raise AddressRefused(f"Not a URL: {exc}.") from None
    host = (parts.hostname or "").rstrip(".").lower()
    if not host.isascii():
        raise AddressRefused("Give the host name in ASCII (punycode for IDN).")
    if _is_loopback_host(host):
        if not policy.allow_loopback:
            raise AddressRefused(
                "Loopback addresses (the local sandbox) are allowed only in "
                "development (DJANGO_DEBUG or SALESMANAGO_ALLOW_LOOPBACK)."
            )
        if parts.scheme not in ("http", "https"):
            raise AddressRefused("A server URL starts with https://.")
        return
    if parts.scheme != "https":
        raise AddressRefused("A server URL starts with https://.")
    if parts.path not in ("", "/"):
        raise AddressRefused(
            "A server URL has no path: give only https:// and the host name."
        )
    if _ip_literal(host) is not None:
        raise AddressRefused("Give the server's host name, not an IP address.")
    if not _allowed_domain(host, policy.allowed_domains):
        domains = ", ".join(policy.allowed_domains) or "none"
        raise AddressRefused(
            f"{host or 'The host'} is not a Salesmanago host (allowed: {domains}, "
            "and their subdomains; SALESMANAGO_ALLOWED_HOSTS)."
        )


def allowed_addresses(host: str, port: int, policy: AddressPolicy) -> list[str]:
    """The addresses ``host`` resolves to, each one allowed; AddressRefused if any is
    not (one bad answer refuses the name) or the name does not resolve."""
    try:
        answers = policy.resolve(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise AddressRefused(f"{host} does not resolve ({exc}).") from None
    addresses = list(dict.fromkeys(answer[4][0] for answer in answers))
    if not addresses:
        raise AddressRefused(f"{host} does not resolve.")
    for address in addresses:
        _check_address(host, address, policy)
    return addresses


def check_account_url(url: str, policy: AddressPolicy) -> None:
    """The check when staff save a URL: the URL itself, and the addresses its host
    resolves to now. A name that does not resolve now is accepted (DNS may be down
    while staff work); the check at connection time refuses it if it ever resolves to
    a forbidden address."""
    check_url(url, policy)
    parts = urlsplit(url)
    try:
        allowed_addresses(parts.hostname, parts.port or 443, policy)
    except AddressRefused as exc:
        if "does not resolve" not in str(exc):
            raise


def _check_address(host: str, address: str, policy: AddressPolicy) -> None:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback and policy.allow_loopback:
        return
    if not ip.is_global or ip.is_multicast:
        raise AddressRefused(
            f"{host} resolves to {ip}, a private, loopback, link-local or reserved "
            "address; refused."
        )


def _is_loopback_host(host: str) -> bool:
    ip = _ip_literal(host)
    return host in LOOPBACK_NAMES or (ip is not None and ip.is_loopback)


def _ip_literal(host: str):
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:  # inet_aton's forms: 2130706433, 0x7f.1, 127.1 are all 127.0.0.1
        return ipaddress.ip_address(socket.inet_aton(host))
    except OSError:
        return None


def _allowed_domain(host: str, domains: tuple[str, ...]) -> bool:
    return any(
        host == d.lower().lstrip(".") or host.endswith("." + d.lower().lstrip("."))
        for d in domains
    )


# -- connecting only to the address that was checked -------------------------------


def _connect_pinned(self) -> socket.socket:
    """urllib3's _new_conn, except that the name is resolved once, every answer is
    checked, and the socket connects to a checked address (TLS still verifies the
    certificate against the host name)."""
    addresses = allowed_addresses(self._dns_host, self.port, self._policy)
    error: OSError | None = None
    for address in addresses:
        try:
            return urllib3_connection.create_connection(
                (address, self.port),
                self.timeout,
                source_address=self.source_address,
                socket_options=self.socket_options,
            )
        except OSError as exc:
            error = exc
    raise _connection_error(self, error)


def _connection_error(conn, error: OSError | None) -> Exception:
    if isinstance(error, TimeoutError):
        return ConnectTimeoutError(conn, f"Connection to {conn.host} timed out.")
    return NewConnectionError(conn, f"Failed to establish a new connection: {error}")


class PinnedAdapter(HTTPAdapter):
    """A requests transport that connects only to addresses ``policy`` allows."""

    def __init__(self, policy: AddressPolicy, **kwargs):
        self.policy = policy
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        attrs = {"_policy": self.policy, "_new_conn": _connect_pinned}
        plain = type("PinnedHTTPConnection", (HTTPConnection,), attrs)
        tls = type("PinnedHTTPSConnection", (HTTPSConnection,), attrs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": type("PinnedPool", (HTTPConnectionPool,), {"ConnectionCls": plain}),
            "https": type(
                "PinnedTLSPool", (HTTPSConnectionPool,), {"ConnectionCls": tls}
            ),
        }

    __attrs__ = [*HTTPAdapter.__attrs__, "policy"]
