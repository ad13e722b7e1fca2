"""A Salesmanago account's URLs reach Salesmanago only: checked when staff save them,
and again on every connection the worker makes (resolved once, connected to the
address that was checked), so neither SSRF nor the account's secrets can go elsewhere.

Names such as app3.salesmanago.com cannot be resolved here (no internet): tests of what
a resolver answers give the policy their own resolver, the one part that is not real;
the connection, TLS and the sandbox are.
"""

import datetime as dt
import socket
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.core.exceptions import ValidationError

from integrations.demo import salesmanago_demo_load
from integrations.models import Delivery, SalesmanagoAccount
from integrations.salesmanago.addresses import (
    AddressPolicy,
    AddressRefused,
    allowed_addresses,
    check_account_url,
    check_url,
)
from integrations.salesmanago.client import SalesmanagoClient
from integrations.salesmanago.errors import SalesmanagoError
from integrations.salesmanago.sandbox import SandboxServer
from integrations.services import account_deliver
from tests.harness.sandbox import sandbox_credentials
from tests.integrations.test_delivery_services import ingest

SALESMANAGO = ("salesmanago.com", "salesmanago.pl")
STRICT = AddressPolicy(allowed_domains=SALESMANAGO)
DEVELOPMENT = AddressPolicy(allowed_domains=SALESMANAGO, allow_loopback=True)


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data",
        "https://169.254.169.254",
        "http://127.0.0.1:5432",
        "http://[::1]:8765",
        "http://localhost:6379",
        "https://2130706433",  # 127.0.0.1 as one number
        "https://10.0.0.1",
        "https://user:pw@app3.salesmanago.com",
        "https://app3.salesmanago.com@evil.example",
        "https://app3.salesmanago.com#",
        "https://app3.salesmanago.com/#",
        "https://app3.salesmanago.com/?next=x",
        "https://app3.salesmanago.com/api/contact/upsert",
        "https://app3.salesmanago.com\\@evil.example",
        "http://app3.salesmanago.com",
        "ftp://app3.salesmanago.com",
        "https://evil.example",
        "https://salesmanago.com.evil.example",
        "https://evilsalesmanago.com",
        "https://app3.salesmanago.com:99999",
        "https://xn--salesmanag-xyz.com",
        "https://\u0430pp3.salesmanago.com",  # a Cyrillic a
        "https:// app3.salesmanago.com",
        "",
    ],
)
def test_urls_that_are_not_salesmanagos_are_refused(url):
    with pytest.raises(AddressRefused):
        check_url(url, STRICT)


@pytest.mark.parametrize(
    "url",
    [
        "https://app3.salesmanago.com",
        "https://api.salesmanago.com/",
        "https://www.salesmanago.pl",
        "https://salesmanago.com",
        "https://APP2.SalesManago.PL.",
    ],
)
def test_salesmanago_urls_are_accepted(url):
    check_url(url, STRICT)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8765", "http://localhost:8765", "http://[::1]:1"]
)
def test_the_loopback_sandbox_only_when_allowed(url):
    check_url(url, DEVELOPMENT)
    with pytest.raises(AddressRefused, match="only in development"):
        check_url(url, STRICT)


def answering(*addresses):
    """A resolver answering ``addresses`` for any name, counting its calls."""

    def resolve(host, port, **kwargs):
        resolve.calls.append(host)
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, 1, 6, "", (a, port))
            for a in addresses
        ]

    resolve.calls = []
    return resolve


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1",
        "172.16.3.4",
        "192.168.1.1",
        "127.0.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "192.0.2.10",
    ],
)
def test_a_name_resolving_to_a_private_address_is_refused(address):
    policy = AddressPolicy(allowed_domains=SALESMANAGO, resolve=answering(address))
    with pytest.raises(AddressRefused, match="resolves to"):
        allowed_addresses("app3.salesmanago.com", 443, policy)


def test_one_private_answer_among_public_ones_refuses_the_name():
    policy = AddressPolicy(
        allowed_domains=SALESMANAGO, resolve=answering("1.1.1.1", "10.1.2.3")
    )
    with pytest.raises(AddressRefused, match=r"10\.1\.2\.3"):
        allowed_addresses("app3.salesmanago.com", 443, policy)


def test_public_answers_are_allowed():
    policy = AddressPolicy(
        allowed_domains=SALESMANAGO, resolve=answering("1.1.1.1", "2606:4700::1111")
    )
    assert allowed_addresses("app3.salesmanago.com", 443, policy) == [
        "1.1.1.1",
        "2606:4700::1111",
    ]


def test_the_system_resolver_is_checked_too():
    """localhost, allowed as a domain but resolved by the machine's resolver."""
    policy = AddressPolicy(allowed_domains=("localhost",))
    with pytest.raises(AddressRefused, match="resolves to"):
        allowed_addresses("localhost", 443, policy)


# -- over HTTP: the worker's client ----------------------------------------------------


@pytest.fixture(scope="module")
def tls_sandbox(tmp_path_factory):
    """The sandbox over TLS with a certificate for app3.salesmanago.com, and the CA
    file that trusts it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "app3.salesmanago.com")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("app3.salesmanago.com")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server = SandboxServer()
    server._httpd.socket = context.wrap_socket(server._httpd.socket, server_side=True)
    server.start()
    yield server, str(cert_file)
    server.stop()


def tls_client(tls_sandbox, policy, **changes) -> SalesmanagoClient:
    server, ca_file = tls_sandbox
    server.reset()
    port = server.url.rsplit(":", 1)[1]
    url = f"https://app3.salesmanago.com:{port}"
    client = SalesmanagoClient(
        sandbox_credentials(url, timeout=5, **changes), policy=policy
    )
    client.session.verify = ca_file
    return client


CONTACT = [{"contact": {"email": "a@example.com"}}]


def test_the_client_connects_to_the_address_it_checked_with_tls_for_the_name(
    tls_sandbox,
):
    """app3.salesmanago.com resolves (by this resolver only) to the TLS sandbox: the
    call arrives, so the socket went to the checked address, and TLS verified the
    certificate against the name."""
    resolve = answering("127.0.0.1")
    policy = AddressPolicy(SALESMANAGO, allow_loopback=True, resolve=resolve)
    [result] = tls_client(tls_sandbox, policy).upsert_contacts(CONTACT).results
    assert result.ok
    assert tls_sandbox[0].state()["received"]["contacts"] == 1
    assert resolve.calls == ["app3.salesmanago.com"]  # once, for the connection


def test_a_second_answer_of_the_resolver_is_never_used(tls_sandbox):
    """DNS rebinding: checked once, connected to what was checked. A client that
    resolved again to connect would get 169.254.169.254 and never reach the sandbox."""
    answers = iter([["127.0.0.1"], ["169.254.169.254"]])

    def rebinding(host, port, **kwargs):
        return [(socket.AF_INET, 1, 6, "", (a, port)) for a in next(answers)]

    policy = AddressPolicy(SALESMANAGO, allow_loopback=True, resolve=rebinding)
    [result] = tls_client(tls_sandbox, policy).upsert_contacts(CONTACT).results
    assert result.ok
    assert tls_sandbox[0].state()["received"]["contacts"] == 1


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.7", "169.254.169.254"])
def test_a_name_resolving_to_a_private_address_is_never_connected(tls_sandbox, address):
    policy = AddressPolicy(SALESMANAGO, resolve=answering(address))
    client = tls_client(tls_sandbox, policy)
    with pytest.raises(SalesmanagoError, match="Refused to connect") as refused:
        client.upsert_contacts(CONTACT)
    assert refused.value.permanent
    assert tls_sandbox[0].state()["received"]["contacts"] == 0
    assert refused.value.exchange.response == "refused"


def test_the_sandbox_on_loopback_is_refused_without_the_setting(sandbox):
    client = SalesmanagoClient(sandbox_credentials(sandbox.url), policy=STRICT)
    with pytest.raises(SalesmanagoError, match="only in development"):
        client.upsert_contacts(CONTACT)
    assert sandbox.state()["calls"] == {}


def test_a_proxy_in_the_environment_is_not_used(tls_sandbox, monkeypatch):
    """HTTPS_PROXY would carry the call (and secrets) to another address."""
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    policy = AddressPolicy(
        SALESMANAGO, allow_loopback=True, resolve=answering("127.0.0.1")
    )
    [result] = tls_client(tls_sandbox, policy).upsert_contacts(CONTACT).results
    assert result.ok


# -- the account: on save, and in delivery ---------------------------------------------


@pytest.fixture
def account(demo, sandbox):
    account = salesmanago_demo_load(demo)
    account.base_url = account.v3_base_url = sandbox.url
    account.save()
    return account


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254",
        "http://127.0.0.1:5432",
        "http://[::1]:80",
        "https://u:p@app3.salesmanago.com",
        "https://app3.salesmanago.com/#",
    ],
)
def test_saving_an_account_checks_both_urls(account, settings, url):
    settings.SALESMANAGO_ALLOW_LOOPBACK = False
    for field in ("base_url", "v3_base_url"):
        setattr(account, field, url)
        with pytest.raises(ValidationError) as refused:
            account.full_clean()
        assert field in refused.value.message_dict
        setattr(account, field, "https://app3.salesmanago.com")
    account.full_clean()  # the names do not resolve here: accepted, checked at send


def test_on_save_a_name_is_resolved_and_refused_for_a_private_answer():
    private = AddressPolicy(SALESMANAGO, resolve=answering("10.20.30.40"))
    with pytest.raises(AddressRefused, match=r"resolves to 10\.20\.30\.40"):
        check_account_url("https://app3.salesmanago.com", private)
    check_account_url("https://app3.salesmanago.com", DEVELOPMENT)  # no DNS here


def test_a_delivery_to_a_url_saved_before_the_checks_is_refused_not_sent(
    account, sandbox
):
    """An account whose URL was set before URLs were checked (saved without clean)."""
    ingest(account)
    SalesmanagoAccount.objects.filter(pk=account.pk).update(
        base_url="http://169.254.169.254"
    )
    assert account_deliver(account_id=account.pk) == 1
    delivery = Delivery.objects.get()
    assert delivery.status == "failed"
    assert delivery.last_error.startswith("Refused to connect")
    assert delivery.response_excerpt == "refused"
    assert sandbox.state()["calls"] == {}


def test_refusals_do_not_tell_open_ports_from_closed_ones():
    """The security review told open ports from closed ones by the error text."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        open_port = listener.getsockname()[1]
        messages = set()
        for port in (open_port, 1):
            url = f"http://127.0.0.1:{port}"
            client = SalesmanagoClient(sandbox_credentials(url), policy=STRICT)
            with pytest.raises(SalesmanagoError) as refused:
                client.upsert_contacts(CONTACT)
            messages.add(refused.value.message)
    assert len(messages) == 1 and "Refused to connect" in messages.pop()
