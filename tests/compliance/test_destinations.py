"""The webhook destination guard (SSRF): the pure rules, the settings page and service, and
the outbox checking again, pinned to the checked address, right before each POST."""

import shutil
import socket
import ssl
import subprocess
import threading
import urllib.error
import urllib.request
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ImproperlyConfigured

from apps.accounts.exceptions import DomainError
from apps.compliance import config, outbox, services
from apps.compliance.destinations import (
    DestinationRefused,
    pinned_opener,
    webhook_destination,
    webhook_url_problem,
)
from apps.compliance.models import AlertSettings, WebhookAttempt
from tests.compliance.conftest import MONDAY, FakeDns
from tests.compliance.receiver import Receiver


def no_lookup(*args):
    raise AssertionError("a literal address needs no DNS lookup")


def resolving(*addresses):
    dns = FakeDns()
    dns["hooks.example.com"] = list(addresses)
    return dns


# --- the rules (no database, no network) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 - the address under test, nothing binds it
        ("[::1]", "loopback"),
        ("[fe80::1]", "link-local"),
        ("[::ffff:127.0.0.1]", "IPv6 form of 127.0.0.1, a loopback"),
        ("224.0.0.1", "multicast"),
        ("[ff02::1]", "multicast"),
        ("[fc00::1]", "private"),
        ("240.0.0.1", "reserved"),
        ("[64:ff9b::a9fe:a9fe]", "IPv6 form of 169.254.169.254"),  # NAT64
        ("[2002:7f00:1::]", "IPv6 form of 127.0.0.1"),  # 6to4
    ],
)
def test_literal_addresses_off_the_public_internet_are_refused(host, reason):
    problem = webhook_url_problem(f"http://{host}/hook", allow_private=False, resolve=no_lookup)
    assert problem is not None
    assert problem.startswith("Webhooks can only be sent to public internet addresses")
    assert host.strip("[]") in problem
    assert reason in problem


@pytest.mark.parametrize(
    "url",
    [
        "https://93.184.216.34/hook",
        "http://93.184.216.34:8080/hook",
        "https://[2606:4700::1111]/hook",
        "https://[2606:4700::1111]:8443/hook",
    ],
)
def test_public_literal_addresses_are_accepted(url):
    assert webhook_url_problem(url, allow_private=False, resolve=no_lookup) is None


def test_a_name_is_checked_on_every_address_it_resolves_to():
    public = resolving("93.184.216.34", "2606:4700::1111")
    assert (
        webhook_url_problem("https://hooks.example.com/x", allow_private=False, resolve=public)
        is None
    )

    # One internal address among public ones is enough to refuse.
    problem = webhook_url_problem(
        "https://hooks.example.com/x",
        allow_private=False,
        resolve=resolving("93.184.216.34", "10.1.2.3"),
    )
    assert problem == (
        "Webhooks can only be sent to public internet addresses; “hooks.example.com” "
        "resolves to 10.1.2.3, which is a private network address."
    )


def test_numeric_host_spellings_are_judged_by_what_they_resolve_to():
    # "2130706433" and "0x7f.1" are 127.0.0.1 to the C resolver: the real one answers
    # these from the string itself, without asking any DNS server.
    for url in ("http://2130706433/", "http://0x7f.1/"):
        problem = webhook_url_problem(url, allow_private=False, resolve=socket.getaddrinfo)
        assert "resolves to 127.0.0.1" in problem


def test_a_name_that_does_not_resolve_is_refused_for_now():
    problem = webhook_url_problem(
        "https://nowhere.example.com/x", allow_private=False, resolve=FakeDns()
    )
    assert (
        problem == "We could not resolve “nowhere.example.com” to an address; check the host name."
    )
    with pytest.raises(DestinationRefused) as refused:
        webhook_destination("https://nowhere.example.com/x", allow_private=True, resolve=FakeDns())
    assert refused.value.transient  # DNS may come back: the outbox retries this one


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("ftp://93.184.216.34/x", "must start with https:// or http://"),
        ("file:///etc/passwd", "must start with https:// or http://"),
        ("gopher://93.184.216.34/", "must start with https:// or http://"),
        ("93.184.216.34/hook", "must start with https:// or http://"),
        ("http:///hook", "needs a host name"),
        ("https://user:pass@93.184.216.34/x", "must not contain a user name or password"),
        ("https://token@93.184.216.34/x", "must not contain a user name or password"),
        ("http://93.184.216.34\\@127.0.0.1/", "must not contain spaces or backslashes"),
        ("http://93.184.216.34:22/", "port 80, 443 or 1024–65535 (not 22)"),
        ("http://93.184.216.34:25/", "(not 25)"),
        ("http://93.184.216.34:0/", "(not 0)"),
        ("http://93.184.216.34:70000/", "invalid port"),
        ("http://93.184.216.34:http/", "invalid port"),
    ],
)
def test_malformed_or_forbidden_urls_are_refused(url, expected):
    problem = webhook_url_problem(url, allow_private=False, resolve=no_lookup)
    assert expected in problem
    with pytest.raises(DestinationRefused) as refused:
        webhook_destination(url, allow_private=True, resolve=no_lookup)
    assert not refused.value.transient  # allow_private lifts the address rule only


def test_allow_private_lets_internal_addresses_through():
    for url in ("http://127.0.0.1:8080/hook", "http://10.0.0.1/", "http://[::1]:9000/"):
        assert webhook_url_problem(url, allow_private=True, resolve=no_lookup) is None
    destination = webhook_destination(
        "http://hooks.example.com:8080/x", allow_private=True, resolve=resolving("192.168.1.1")
    )
    assert (destination.host, destination.port, destination.addresses) == (
        "hooks.example.com",
        8080,
        ("192.168.1.1",),
    )


@pytest.mark.parametrize(
    ("configured", "expected"),
    [(None, False), (True, True), (False, False), (1, True), ("true", True), ("0", False)],
)
def test_the_allow_private_setting(settings, monkeypatch, configured, expected):
    monkeypatch.delenv("COMPLIANCE_WEBHOOK_ALLOW_PRIVATE", raising=False)
    settings.COMPLIANCE_WEBHOOK_ALLOW_PRIVATE = configured
    assert config.flag("COMPLIANCE_WEBHOOK_ALLOW_PRIVATE") is expected


def test_the_allow_private_environment_variable(settings, monkeypatch):
    settings.COMPLIANCE_WEBHOOK_ALLOW_PRIVATE = None
    monkeypatch.setenv("COMPLIANCE_WEBHOOK_ALLOW_PRIVATE", "yes")
    assert config.flag("COMPLIANCE_WEBHOOK_ALLOW_PRIVATE") is True
    monkeypatch.setenv("COMPLIANCE_WEBHOOK_ALLOW_PRIVATE", "maybe")
    with pytest.raises(ImproperlyConfigured, match="COMPLIANCE_WEBHOOK_ALLOW_PRIVATE"):
        config.flag("COMPLIANCE_WEBHOOK_ALLOW_PRIVATE")


# --- saving the URL -------------------------------------------------------------------------------


def _save(url: str):
    return services.alert_settings_update(
        actor=None,
        due_soon_share=None,
        webhook_url=url,
        webhook_enabled=True,
        webhook_kinds=["breach"],
        webhook_secret="s3cret",
    )


def test_the_settings_service_refuses_the_metadata_service(acme, settings):
    settings.COMPLIANCE_WEBHOOK_ALLOW_PRIVATE = False
    with pytest.raises(DomainError) as refused:
        _save("http://169.254.169.254/latest")
    assert refused.value.field == "webhook_url"
    assert "169.254.169.254 is a link-local address" in refused.value.message
    assert not AlertSettings.objects.filter(webhook_url__contains="169.254").exists()

    settings.COMPLIANCE_WEBHOOK_ALLOW_PRIVATE = True  # a self-hosted install
    assert _save("http://127.0.0.1:8080/hook").webhook_url == "http://127.0.0.1:8080/hook"


def test_the_settings_page_shows_the_refusal_on_the_url_field(client_as, settings, fake_dns):
    settings.COMPLIANCE_WEBHOOK_ALLOW_PRIVATE = False
    fake_dns["internal.example.com"] = ["10.0.0.7"]
    client = client_as("admin")
    for url, message in [
        ("http://169.254.169.254/latest", "169.254.169.254 is a link-local address"),
        ("https://internal.example.com/hook", "resolves to 10.0.0.7, which is a private"),
        ("https://gone.example.com/hook", "We could not resolve “gone.example.com”"),
    ]:
        response = client.post(
            "/compliance/settings/",
            {"webhook_url": url, "generate_secret": "on", "webhook_enabled": "on"},
        )
        # The page's form convention: re-rendered with the error under the field.
        assert response.status_code == 200
        assert message in response.context["form"].errors["webhook_url"][0]
        assert message in response.content.decode()
    assert not AlertSettings.objects.filter(webhook_enabled=True).exists()


# --- delivering -----------------------------------------------------------------------------------


def test_the_outbox_refuses_a_destination_that_turned_internal(breach, settings, fake_dns):
    settings.COMPLIANCE_WEBHOOK_ALLOW_PRIVATE = False
    with Receiver() as receiver:
        url = f"http://hooks.example.com:{receiver.port}/hook"
        fake_dns["hooks.example.com"] = ["93.184.216.34"]
        delivery = breach(url)
        _save(url)  # accepted: the name was public when the admin saved it
        # Then its DNS answers with this server (rebinding), where the receiver listens.
        fake_dns["hooks.example.com"] = ["127.0.0.1"]
        t0 = MONDAY + timedelta(hours=5)

        assert outbox.webhook_deliver(now=t0) == 0
        assert outbox.webhook_deliver(now=t0 + timedelta(days=1)) == 0  # not retried

    assert receiver.requests == []
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert delivery.last_error == (
        "Not sent: Webhooks can only be sent to public internet addresses; “hooks.example.com” "
        "resolves to 127.0.0.1, which is a loopback address (this server)."
    )
    attempt = WebhookAttempt.objects.get()
    assert (attempt.url, attempt.status_code, attempt.succeeded) == (url, None, False)
    assert attempt.error == delivery.last_error


def test_a_name_that_stops_resolving_is_an_ordinary_failed_attempt(breach, settings, fake_dns):
    settings.COMPLIANCE_WEBHOOK_ALLOW_PRIVATE = False
    settings.COMPLIANCE_RETRY_BASE_SECONDS = 30
    delivery = breach("https://gone.example.com/hook")
    t0 = MONDAY + timedelta(hours=5)

    assert outbox.webhook_deliver(now=t0) == 0

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.next_attempt_at == t0 + timedelta(seconds=30)
    assert "could not resolve “gone.example.com”" in delivery.last_error


def test_the_post_goes_to_the_checked_address_under_the_host_name(breach, settings, fake_dns):
    settings.COMPLIANCE_WEBHOOK_ALLOW_PRIVATE = True
    with Receiver() as receiver:
        # Only the fake DNS knows this name: the POST arriving proves the connection went
        # to the address the check resolved, without a second lookup.
        fake_dns["receiver.example.test"] = ["127.0.0.1"]
        delivery = breach(f"http://receiver.example.test:{receiver.port}/hook")

        assert outbox.webhook_deliver(now=MONDAY + timedelta(hours=5)) == 1

    assert fake_dns.lookups == ["receiver.example.test"]
    assert receiver.requests[0]["headers"]["Host"] == f"receiver.example.test:{receiver.port}"
    delivery.refresh_from_db()
    assert delivery.status == "delivered"


def test_redirects_are_not_followed(breach, settings):
    settings.COMPLIANCE_WEBHOOK_ALLOW_PRIVATE = True
    with Receiver() as internal, Receiver([302], {"Location": internal.url}) as public:
        delivery = breach(public.url)

        assert outbox.webhook_deliver(now=MONDAY + timedelta(hours=5)) == 0

    assert len(public.requests) == 1
    assert internal.requests == []
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_error) == ("pending", "HTTP 302")


def test_a_request_for_another_host_is_not_sent_to_the_checked_address():
    destination = webhook_destination(
        "http://hooks.example.com:8080/x", allow_private=True, resolve=resolving("127.0.0.1")
    )
    request = urllib.request.Request("http://other.example.com:8080/x", data=b"{}")
    with pytest.raises(urllib.error.URLError, match="not the checked webhook destination"):
        pinned_opener(destination).open(request, timeout=2)


OPENSSL_SELF_SIGNED = (
    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
    "-subj /CN=receiver.example.test -addext subjectAltName=DNS:receiver.example.test"
)


def _post(destination, url, **kwargs):
    request = urllib.request.Request(url, data=b"{}", method="POST")  # noqa: S310 - https only
    return pinned_opener(destination, **kwargs).open(request, timeout=5)


@pytest.fixture
def tls_receiver(tmp_path):
    """An HTTPS endpoint on 127.0.0.1 with a self-signed certificate for receiver.example.test."""
    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make a test certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    command = [*OPENSSL_SELF_SIGNED.split(), "-keyout", str(key), "-out", str(cert)]
    subprocess.run(command, check=True, capture_output=True)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    server.socket = server_tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port, ssl.create_default_context(cafile=str(cert))
    server.shutdown()
    server.server_close()


def test_https_to_the_checked_address_verifies_the_certificate_for_the_name(tls_receiver):
    port, trusted = tls_receiver
    dns = FakeDns()
    dns["receiver.example.test"] = ["127.0.0.1"]
    dns["impostor.example.test"] = ["127.0.0.1"]

    url = f"https://receiver.example.test:{port}/hook"
    destination = webhook_destination(url, allow_private=True, resolve=dns)
    with _post(destination, url, context=trusted) as response:
        assert response.status == 204

    # Same address, another name: the certificate does not match it, nothing is sent.
    url = f"https://impostor.example.test:{port}/hook"
    destination = webhook_destination(url, allow_private=True, resolve=dns)
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        _post(destination, url, context=trusted)
