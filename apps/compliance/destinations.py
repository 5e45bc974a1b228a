"""Where the organization webhook may point: a guard against server-side request forgery.

An organization admin chooses the webhook URL and our worker POSTs to it, so without a
guard any tenant could make our servers call the cloud metadata service
(169.254.169.254), the database on localhost or anything on the private network. The
rules, checked when the URL is saved and again right before every POST:

* scheme http or https, a host, no ``user:password@`` (the signing secret authenticates);
* port 80, 443 or 1024-65535. Ports below 1024 are well-known system services (SSH 22,
  SMTP 25, DNS 53, ...) that no webhook receiver needs; refusing them keeps our workers
  from sending cross-protocol requests, whose body quotes lead names a tenant controls,
  to other people's mail or SSH servers. Our own services on higher ports (PostgreSQL
  5432, Redis 6379) are protected by the address rule below, not the port;
* every address the host resolves to is on the public internet: none is loopback,
  private, link-local, shared (100.64/10), multicast, reserved or unspecified, also
  when it is embedded in an IPv6 address (IPv4-mapped, 6to4, Teredo, NAT64).
  ``allow_private`` (COMPLIANCE_WEBHOOK_ALLOW_PRIVATE, for self-hosted installs and
  the tests' local receiver) lifts this rule only.

A check at save time alone is not enough: DNS can answer differently a minute later
(rebinding). ``pinned_opener`` therefore connects to the very addresses that were
checked, sending the original host name in the Host header and TLS SNI (certificates
are verified against the name), follows no redirect (a public receiver could redirect
to an internal address) and ignores proxy environment variables.

No ORM and no settings here: callers pass ``allow_private`` and, in tests, ``resolve``.
"""

from __future__ import annotations

import functools
import http.client
import ipaddress
import socket
import ssl
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from socket import getaddrinfo  # looked up at call time: tests replace it on this module
from urllib.parse import urlsplit

# getaddrinfo's shape: (host, port) -> [(family, type, proto, canonname, sockaddr), ...]
Resolver = Callable[..., Sequence[tuple]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_LOW_PORTS = frozenset({80, 443})
LOWEST_HIGH_PORT = 1024

# Ranges Python's ipaddress flags do not all cover (or not in every Python version).
SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT
NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")  # embeds an IPv4 address
NAT64_LOCAL_USE = ipaddress.ip_network("64:ff9b:1::/48")
FORBIDDEN_URL_CHARACTERS = frozenset("\\ \t\r\n")


class DestinationRefused(ValueError):
    """The webhook may not be sent to this URL; the message is for the organization admin.

    ``transient`` is True only when the host name did not resolve (DNS can come back);
    everything else stays refused until the URL or the address behind it changes.
    """

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient


@dataclass(frozen=True)
class Destination:
    """A checked webhook URL and the public addresses its host resolved to (in order)."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]


def webhook_url_problem(
    url: str, *, allow_private: bool, resolve: Resolver | None = None
) -> str | None:
    """What is wrong with sending the webhook to ``url`` (a message for the admin), or None.

    ``resolve`` is getaddrinfo-shaped; None means ``socket.getaddrinfo``.
    """
    try:
        webhook_destination(url, allow_private=allow_private, resolve=resolve)
    except DestinationRefused as refused:
        return refused.message
    return None


def webhook_destination(
    url: str, *, allow_private: bool, resolve: Resolver | None = None
) -> Destination:
    """``url`` checked and resolved, to connect to; raises DestinationRefused."""
    if any(character in FORBIDDEN_URL_CHARACTERS for character in url):
        raise DestinationRefused("The webhook URL must not contain spaces or backslashes.")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"}:
        raise DestinationRefused("The webhook URL must start with https:// or http://.")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise DestinationRefused(
            "The webhook URL must not contain a user name or password; "
            "receivers check the X-Handoff-Signature header instead."
        )
    host = parts.hostname
    if not host:
        raise DestinationRefused("The webhook URL needs a host name.")
    try:
        port = parts.port
    except ValueError:
        raise DestinationRefused("The webhook URL has an invalid port.") from None
    if port is None:
        port = 443 if scheme == "https" else 80
    if port not in ALLOWED_LOW_PORTS and not LOWEST_HIGH_PORT <= port <= 65535:
        raise DestinationRefused(
            f"Webhooks can only use port 80, 443 or 1024–65535 (not {port}): "
            "lower ports belong to system services such as SSH and mail."
        )
    addresses = _addresses(host, port, resolve or getaddrinfo)
    if not allow_private:
        for address in addresses:
            reason = non_public_reason(address)
            if reason is not None:
                subject = host if _literal_ip(host) else f"“{host}” resolves to {address}, which"
                raise DestinationRefused(
                    f"Webhooks can only be sent to public internet addresses; {subject} "
                    f"is {reason}."
                )
    return Destination(
        url=url,
        scheme=scheme,
        host=host,
        port=port,
        addresses=tuple(dict.fromkeys(str(a) for a in addresses)),
    )


def non_public_reason(address: IPAddress) -> str | None:
    """Why ``address`` is not a public internet address (“a loopback address”), or None."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            inner = non_public_reason(embedded)
            if inner is not None:
                return f"an IPv6 form of {embedded}, {inner}"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_loopback:
        return "a loopback address (this server)"
    if address.is_link_local:
        return "a link-local address (such as a cloud metadata service)"
    if address.is_multicast:
        return "a multicast address"
    if address in SHARED_ADDRESS_SPACE:
        return "a shared carrier-grade NAT address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private or (
        isinstance(address, ipaddress.IPv6Address)
        and (address.is_site_local or address in NAT64_LOCAL_USE)
    ):
        return "a private network address"
    if not address.is_global:
        return "not a public internet address"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    # Each of these forms reaches the IPv4 address it carries on a network that routes
    # it (a dual-stack socket, a 6to4 relay, a Teredo tunnel, a NAT64 gateway).
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in NAT64_WELL_KNOWN:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _literal_ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _addresses(host: str, port: int, resolve: Resolver) -> list[IPAddress]:
    literal = _literal_ip(host)
    if literal is not None:
        return [literal]
    try:
        infos = resolve(host, port)
    except UnicodeError:
        raise DestinationRefused(f"“{host}” is not a valid host name.") from None
    except OSError:  # socket.gaierror: no such name, or no DNS right now
        infos = []
    addresses = []
    for info in infos:
        try:
            addresses.append(ipaddress.ip_address(info[4][0]))
        except ValueError:  # not an IP family we know; it is not connected to either
            continue
    if not addresses:
        raise DestinationRefused(
            f"We could not resolve “{host}” to an address; check the host name.",
            transient=True,
        )
    return addresses


# --- connecting to the checked addresses only ---------------------------------------------------


def pinned_opener(
    destination: Destination, *, context: ssl.SSLContext | None = None
) -> urllib.request.OpenerDirector:
    """A urllib opener that sends requests for ``destination`` to its checked addresses only.

    No proxy, no redirect (a 3xx raises HTTPError like any other failure status), and only
    http(s). ``context`` is the TLS context (default: system trust, hostname checked).
    """
    opener = urllib.request.OpenerDirector()
    for handler in (
        _PinnedHTTPHandler(destination),
        _PinnedHTTPSHandler(destination, context or ssl.create_default_context()),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
        urllib.request.UnknownHandler(),
    ):
        opener.add_handler(handler)
    return opener


def _pinned_socket(
    destination: Destination, host: str, port: int, timeout, source_address
) -> socket.socket:
    # urllib parses the URL again; should it ever read a different host than urlsplit
    # did, refuse rather than connect the checked addresses under another name.
    if host.lower() != destination.host.lower() or port != destination.port:
        raise ConnectionRefusedError(f"{host}:{port} is not the checked webhook destination")
    failure: OSError | None = None
    for address in destination.addresses:
        try:
            return socket.create_connection((address, port), timeout, source_address)
        except OSError as error:  # like create_connection: try the next address
            failure = error
    raise failure or ConnectionRefusedError("no address to connect to")


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args, destination: Destination, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.destination = destination

    def connect(self) -> None:
        self.sock = _pinned_socket(
            self.destination, self.host, self.port, self.timeout, self.source_address
        )


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args, destination: Destination, tls: ssl.SSLContext, **kwargs) -> None:
        super().__init__(*args, context=tls, **kwargs)
        self.destination = destination
        self.tls = tls

    def connect(self) -> None:
        sock = _pinned_socket(
            self.destination, self.host, self.port, self.timeout, self.source_address
        )
        # SNI and certificate verification use the name, not the address we dialled.
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)


class _PinnedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, destination: Destination) -> None:
        super().__init__()
        self.destination = destination

    def http_open(self, req):
        return self.do_open(
            functools.partial(_PinnedHTTPConnection, destination=self.destination), req
        )


class _PinnedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, destination: Destination, tls: ssl.SSLContext) -> None:
        super().__init__(context=tls)
        self.destination = destination
        self.tls = tls

    def https_open(self, req):
        return self.do_open(
            functools.partial(_PinnedHTTPSConnection, destination=self.destination, tls=self.tls),
            req,
        )
