"""API rate limits: per token, per organization, per address for anonymous calls and bad
tokens; 429 with Retry-After, counted in the shared cache (Redis) across processes."""

import uuid

import pytest
from django.test import Client

from apps.accounts.throttles import rate_parse, window_hit


@pytest.fixture
def small_limits(settings):
    # Each test counts in a namespace of its own (assigning CACHES makes Django reopen the
    # cache), so one test's windows never carry over into the next.
    prefix = f"{settings.CACHES['default']['KEY_PREFIX']}-{uuid.uuid4().hex[:8]}"
    settings.CACHES = {"default": {**settings.CACHES["default"], "KEY_PREFIX": prefix}}
    settings.API_RATE_PER_TOKEN = "5/minute"
    settings.API_RATE_PER_ORGANIZATION = "8/minute"
    settings.API_RATE_ANONYMOUS = "4/minute"
    settings.API_RATE_FAILED_TOKENS = "3/minute"
    return settings


def test_rate_parse():
    assert rate_parse("600/minute") == (600, 60)
    assert rate_parse("5/hour") == (5, 3600)
    assert rate_parse("2/s") == (2, 1)


def test_window_counts_hits_and_says_how_long_to_wait(small_limits):
    key = "unit"
    now = 60 * 16_666_667 + 20.0  # 20 s into a minute window
    results = [window_hit(key, "3/minute", now=now) for _ in range(4)]
    assert [allowed for allowed, _ in results] == [True, True, True, False]
    assert results[-1][1] == 41  # 40 s left in the window, rounded up
    assert window_hit(key, "3/minute", now=now + 60)[0] is True  # the next window


def test_a_token_beyond_its_rate_gets_429_with_retry_after(api_as, small_limits, request):
    client = api_as("admin")
    statuses = [client.get("/api/v1/me/").status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    last = client.get("/api/v1/me/")
    assert last.status_code == 429
    assert 1 <= int(last["Retry-After"]) <= 61
    assert "throttled" in last.json()["detail"].lower() or "request" in last.json()["detail"]
    # Another token of the same organization still has its own allowance.
    assert api_as("rep").get("/api/v1/me/").status_code == 200


def test_the_organization_shares_one_limit(api_as, small_limits):
    tokens = [api_as("admin") for _ in range(4)]
    statuses = [client.get("/api/v1/me/").status_code for client in tokens for _ in range(3)]
    assert statuses.count(200) == 8 and statuses.count(429) == 4


def test_the_organization_limit_does_not_touch_another_organization(
    api_as, small_limits, globex, in_schema
):
    from apps.accounts.services import api_key_create, user_create

    for _ in range(9):
        api_as("admin").get("/api/v1/me/")
    with in_schema(globex.schema_name):
        user = user_create(email="ops@globex.test", name="Ops", role="admin")
        _, token = api_key_create(name="t", created_by=user, user=user)
    other = Client(HTTP_HOST=f"{globex.subdomain}.localhost", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert other.get("/api/v1/me/").status_code == 200


def test_guessing_tokens_is_throttled_per_address(anon_client, api_as, small_limits):
    bad = [
        anon_client.get(
            "/api/v1/me/",
            HTTP_AUTHORIZATION=f"Bearer hk_000000000000_guess{n}",
            REMOTE_ADDR="10.7.0.1",
        ).status_code
        for n in range(5)
    ]
    assert bad[:3] == [401, 401, 401] and bad[3:] == [429, 429]
    # Another address is not affected.
    good = api_as("admin")
    assert good.get("/api/v1/me/", REMOTE_ADDR="10.7.0.2").status_code == 200


def test_anonymous_calls_are_limited_per_address(anon_client, small_limits):
    statuses = [
        anon_client.post(
            "/api/v1/webhooks/hubspot/",
            data="[]",
            content_type="application/json",
            REMOTE_ADDR="10.8.0.1",
        ).status_code
        for _ in range(6)
    ]
    assert statuses[:4] != [429] * 4 and statuses[4:] == [429, 429]
