"""SociocsClient through httpx.MockTransport: what it sends, and how each answer becomes an Outcome."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from bot.domain.outcome import Outcome, OutcomeKind
from bot.domain.payload import MessagePayload
from bot.domain.providers import Provider
from bot.sociocs import SociocsClient
from bot.sociocs._client import SociocsError

pytestmark = pytest.mark.anyio

KEY = "user-7f2a:secret-9c41"
PAYLOAD = MessagePayload(provider="twlo", channel_key="ck-twlo", to="+16175550101", text="Your table is ready")
Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)


async def call(handler: Handler, **kw: Any) -> tuple[Outcome, Recorder]:
    recorder = Recorder(handler)
    client = SociocsClient(
        api_key=KEY, base_url="https://sociocs.test", timeout=3, transport=httpx.MockTransport(recorder), **kw
    )
    try:
        return await client.send(PAYLOAD), recorder
    finally:
        await client.aclose()


def answer(status: int, body: Any = None, headers: dict[str, str] | None = None, text: str | None = None) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        if text is not None:
            return httpx.Response(status, text=text, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return handle


def raising(exc: type[httpx.TransportError]) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        raise exc("boom", request=request)

    return handle


async def test_the_api_key_travels_only_in_the_apikey_header():
    seen: list[Any] = []
    outcome, recorder = await call(
        answer(200, {"status": "success", "data": {"message_id": "SM1"}}), on_request=seen.append
    )
    (request,) = recorder.requests
    assert request.method == "POST" and request.url == "https://sociocs.test/message"
    assert request.headers["apikey"] == KEY and request.headers["content-type"] == "application/json"
    assert KEY not in str(request.url) and "secret" not in str(request.url)
    assert json.loads(request.content) == PAYLOAD.to_json() == seen[0]
    assert outcome == Outcome.sent("SM1")


@pytest.mark.parametrize(
    ("handler", "expected"),
    [
        (answer(200, {"status": "success", "data": {"message_id": 12345}}), Outcome.sent("12345")),
        (
            answer(200, {"status": "success", "data": None}),
            Outcome.unknown("Sociocs answered 200 without a message id", 200),
        ),
        (
            answer(200, {"status": "error", "errors": [{"msg": "Number is blocked."}]}),
            Outcome.failed("Number is blocked.", 200),
        ),
        (
            answer(200, text="<html>ok</html>"),
            Outcome.unknown("Sociocs answered 200 but the reply could not be read", 200),
        ),
        (
            answer(400, {"status": "error", "errors": [{"msg": "Invalid phone number."}, {"msg": "Invalid name."}]}),
            Outcome.failed("Invalid phone number.; Invalid name.", 400),
        ),
        (answer(400, {"message": "Bad to"}), Outcome.failed("Bad to", 400)),
        (
            answer(401, {"status": "error", "errors": [{"msg": "Invalid API key."}]}),
            Outcome.failed("Invalid API key.", 401),
        ),
        (answer(404, text="not here"), Outcome.failed("Not Found", 404)),
        (
            answer(429, {"status": "error", "errors": [{"msg": "Too many requests."}]}, {"Retry-After": "7"}),
            Outcome.failed("Too many requests.", 429, 7.0, retryable=True),
        ),
        (
            answer(429, text="slow down", headers={"Retry-After": "soon"}),
            Outcome.failed("rate limit reached", 429, None, retryable=True),
        ),
        (answer(500, text="oops"), Outcome.unknown("Sociocs server error: Internal Server Error", 500)),
        (answer(503, {"error": "maintenance"}), Outcome.unknown("maintenance", 503)),
    ],
    ids=[
        "200-numeric-id",
        "200-no-id",
        "200-error",
        "200-not-json",
        "400-errors",
        "400-message",
        "401",
        "404",
        "429-retry-after",
        "429-bad-retry-after",
        "500",
        "503-error",
    ],
)
async def test_each_answer_maps_to_its_outcome(handler: Handler, expected: Outcome):
    outcome, _ = await call(handler)
    assert outcome == expected


async def test_only_a_never_made_connection_and_a_429_are_retryable():
    refused, _ = await call(raising(httpx.ConnectError))
    assert refused.kind is OutcomeKind.FAILED and refused.retryable and refused.http_status is None
    assert refused.error == "could not connect to Sociocs (ConnectError)"
    connect_timeout, _ = await call(raising(httpx.ConnectTimeout))
    assert connect_timeout.retryable
    timeout, _ = await call(raising(httpx.ReadTimeout))
    assert timeout == Outcome.unknown("Sociocs did not answer within 3 s")  # it may have gone out
    broken, _ = await call(raising(httpx.RemoteProtocolError))
    assert broken == Outcome.unknown("the connection to Sociocs broke (RemoteProtocolError)")


async def test_the_key_is_in_no_outcome_whatever_goes_wrong():
    def echo_key(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, text=f"failed for {request.headers['apikey']}")  # not JSON, so not shown

    for handler in (echo_key, raising(httpx.ConnectError), raising(httpx.ReadTimeout), answer(401, {"x": 1})):
        outcome, _ = await call(handler)
        assert KEY not in repr(outcome) and "secret-9c41" not in repr(outcome)


async def client_for(handler: Handler) -> SociocsClient:
    return SociocsClient(api_key=KEY, base_url="https://sociocs.test", transport=httpx.MockTransport(handler))


async def test_list_channels_reads_both_shapes_and_sends_the_key_in_the_header():
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        items = [{"id": 1, "channel_key": "ck-1", "name": "one", "extra": True}]
        return httpx.Response(200, json=items if request.url.params["provider"] == "twlo" else {"data": items})

    client = await client_for(handle)
    try:
        for provider in (Provider.TWLO, Provider.TWLOWA):
            (channel,) = await client.list_channels(provider)
            assert channel.channel_key == "ck-1"
    finally:
        await client.aclose()
    assert all(r.headers["apikey"] == KEY and KEY not in str(r.url) for r in seen)


@pytest.mark.parametrize(
    ("handler", "message"),
    [
        (answer(401, {"status": "error", "errors": [{"msg": "Invalid API key."}]}), "HTTP 401: Invalid API key."),
        (answer(200, {"data": "nope"}), "unexpected reply to GET /channels"),
        (answer(200, [{"name": "no key"}]), "unexpected channel entries in GET /channels"),
        (raising(httpx.ConnectError), "could not reach Sociocs (ConnectError)"),
    ],
)
async def test_list_channels_failures_are_readable_and_keyless(handler: Handler, message: str):
    client = await client_for(handler)
    try:
        with pytest.raises(SociocsError) as failed:
            await client.list_channels(Provider.TWLO)
    finally:
        await client.aclose()
    assert str(failed.value) == message and KEY not in str(failed.value)
    assert failed.value.__cause__ is None  # nothing chained that could carry the request


async def test_subscribe_webhook_sends_the_subscription_and_returns_its_id():
    seen: list[Any] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, json={"status": "success", "data": {"id": 9}})

    client = await client_for(handle)
    try:
        sub = await client.subscribe_webhook(
            provider=Provider.TWLO, channel_key="ck-1", reference="ref", webhook_url="https://bot/x", secret="s"
        )
    finally:
        await client.aclose()
    assert sub == "9" and seen[0]["events"] == ["messages", "status_updates"] and seen[0]["platform"] == "slack"


@pytest.mark.parametrize(
    ("handler", "message"),
    [
        (
            answer(400, {"status": "error", "errors": [{"msg": "Invalid channel_key."}]}),
            "HTTP 400: Invalid channel_key.",
        ),
        (raising(httpx.ReadTimeout), "could not reach Sociocs (ReadTimeout)"),
    ],
)
async def test_subscribe_webhook_failures_raise_readable_errors(handler: Handler, message: str):
    client = await client_for(handler)
    try:
        with pytest.raises(SociocsError, match=message.replace(".", r"\.").replace("(", r"\(").replace(")", r"\)")):
            await client.subscribe_webhook(
                provider=Provider.TWLO, channel_key="ck-1", reference="r", webhook_url="https://bot/x", secret="s"
            )
    finally:
        await client.aclose()


async def test_sends_and_contact_lookups_have_slots_of_their_own():
    """`max_in_flight` messages at once, and as many lookups beside them (#18): a burst of sends never
    holds up the typeahead's search, which Slack gives 3 s, nor do lookups take the sends' slots."""
    import asyncio

    release = asyncio.Event()
    in_flight = {"message": 0, "lookup": 0}
    most = {"message": 0, "lookup": 0}

    async def handle(request: httpx.Request) -> httpx.Response:
        kind = "message" if request.url.path == "/message" else "lookup"
        in_flight[kind] += 1
        most[kind] = max(most[kind], in_flight[kind])
        await release.wait()
        in_flight[kind] -= 1
        if kind == "message":
            return httpx.Response(200, json={"status": "success", "data": {"message_id": "SM1"}})
        return httpx.Response(200, json={"status": "success", "data": []})

    client = SociocsClient(api_key=KEY, transport=httpx.MockTransport(handle), max_in_flight=2)
    try:
        sends = [asyncio.ensure_future(client.send(PAYLOAD)) for _ in range(3)]
        searches = [asyncio.ensure_future(client.search_contacts("jane")) for _ in range(3)]
        await asyncio.sleep(0.05)
        assert in_flight == {"message": 2, "lookup": 2}  # each kind full, neither waiting for the other
        release.set()
        await asyncio.gather(*sends, *searches)
    finally:
        await client.aclose()
    assert most == {"message": 2, "lookup": 2}
