"""Fixtures shared by the compliance tests: a fake DNS and a breach with the webhook set."""

import socket
from datetime import UTC, datetime, timedelta

import pytest

from apps.compliance import destinations, services
from apps.compliance.models import AlertDelivery, AlertSettings
from tests.compliance import factories as f

MONDAY = datetime(2026, 3, 2, 9, tzinfo=UTC)
SECRET = "test-signing-secret"


class FakeDns:
    """Host name -> addresses, answering like getaddrinfo; unknown names do not resolve.

    Replaces the resolver of apps.compliance.destinations only (not the socket module):
    no test depends on the network's DNS.
    """

    def __init__(self):
        self.names: dict[str, list[str]] = {}
        self.lookups: list[str] = []

    def __setitem__(self, name: str, addresses: list[str]) -> None:
        self.names[name] = list(addresses)

    def __call__(self, host, port, *args, **kwargs):
        self.lookups.append(host)
        if host not in self.names:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (
                socket.AF_INET6 if ":" in address else socket.AF_INET,
                socket.SOCK_STREAM,
                socket.IPPROTO_TCP,
                "",
                (address, port),
            )
            for address in self.names[host]
        ]


@pytest.fixture
def fake_dns(monkeypatch) -> FakeDns:
    dns = FakeDns()
    monkeypatch.setattr(destinations, "getaddrinfo", dns)
    return dns


@pytest.fixture
def breach(acme, make_user):
    """One breach alert (to a rep and a sales leader), with the webhook configured at ``url``
    straight in the table (as if saved before the destination rules, or before DNS changed)."""

    def make(url: str, kinds=("breach",)):
        AlertSettings.objects.update_or_create(
            pk=1,
            defaults={
                "webhook_url": url,
                "webhook_secret": SECRET,
                "webhook_enabled": True,
                "webhook_kinds": list(kinds),
            },
        )
        version = f.signed_version(effective_at=MONDAY - timedelta(days=30))
        lead = f.lead(owner=make_user("rep"), first_name="Jane", last_name="Doe", company="Initech")
        make_user("sales_leader")
        f.clock(event=f.mql_event(lead=lead, at=MONDAY), commitment=version.commitments.get())
        services.clocks_breach(now=MONDAY + timedelta(hours=5))
        return AlertDelivery.objects.filter(channel="webhook").first()

    return make
