"""Photos and files from Slack (#16), in process: the real Bolt app, the Slack stand-in serving files
behind bearer auth, the Sociocs stand-in receiving the payloads, and `GET /media/{token}` answered by
the bot's own HTTP app (Starlette through httpx's ASGI transport)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiohttp import web
from sqlalchemy import update

from bot.domain.media import MAX_MEDIA_BYTES
from bot.ledger import SendStatus
from bot.ledger._media import media_files
from bot.media_endpoint import media_route
from bot.standins import LocalServer
from bot.web import build_web_app
from tests.conftest import new_channel, new_number, trigger_id, unique_ts
from tests.unit.app import AppUnderTest, acked

pytestmark = pytest.mark.anyio

PUBLIC_URL = "https://bot.example.com"
JPEG = b"\xff\xd8\xff\xe0" + b"jpeg-one" * 100
PNG = b"\x89PNG\r\n\x1a\n" + b"png-two" * 100
PDF = b"%PDF-1.4\n" + b"invoice" * 100


class Elsewhere(LocalServer):
    """A host that is not Slack's: records every request it gets (none should ever come)."""

    def web_app(self) -> web.Application:
        app = web.Application()

        async def anything(request: web.Request) -> web.Response:
            self._record({"path": request.path, "authorization": request.headers.get("Authorization")})
            return web.Response(body=JPEG, content_type="image/jpeg")

        app.router.add_route("*", "/{tail:.*}", anything)
        return app


@pytest.fixture
async def elsewhere() -> AsyncIterator[Elsewhere]:
    server = Elsewhere()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def message_shortcut(files: list[dict[str, Any]], channel: str, text: str = "Your photos") -> dict[str, Any]:
    ts = unique_ts()
    return {
        "type": "message_action",
        "callback_id": "send_as_sms",
        "trigger_id": trigger_id(),
        "action_ts": ts,
        "team": {"id": "T0STANDIN", "domain": "standin"},
        "user": {"id": "U0SENDER", "name": "jane.sender"},
        "channel": {"id": channel, "name": "general"},
        "message_ts": ts,
        "message": {"type": "message", "user": "U0OTHER", "ts": ts, "text": text, "files": files},
        "response_url": "http://127.0.0.1:9/unused",
        "api_app_id": "A0STANDIN",
    }


def submission(
    view: dict[str, Any],
    *,
    to: str,
    text: str = "",
    provider: str = "twlo",
    uploads: list[dict[str, Any]] | None = None,
    ticked: list[str] | None = None,
) -> dict[str, Any]:
    """What Slack posts when the form is sent: `uploads` in the file_input, `ticked` message files kept."""

    def plain(value: str) -> dict[str, Any]:
        return {"type": "plain_text_input", "value": value or None}

    values: dict[str, Any] = {
        "provider": {"provider": {"type": "static_select", "selected_option": {"value": provider}}},
        "to": {"to": plain(to)},
        "name": {"name": plain("")},
        "text": {"text": plain(text)},
        "images": {"images": plain("")},
        "file": {"file": plain("")},
        "attachments": {"attachments": {"type": "file_input", "files": uploads or []}},
    }
    offered = next((b for b in view["blocks"] if b.get("block_id") == "attachment_files"), None)
    if offered is not None:
        options = offered["element"]["options"]
        kept = [o for o in options if ticked is None or o["value"] in ticked]
        values["attachment_files"] = {"attachment_files": {"type": "checkboxes", "selected_options": kept}}
    if any(b.get("block_id") == "destination" for b in view["blocks"]):
        values["destination"] = {"destination": {"type": "conversations_select", "selected_conversation": "C0GENERAL"}}
    return {
        "type": "view_submission",
        "team": {"id": "T0STANDIN", "domain": "standin"},
        "user": {"id": "U0SENDER", "name": "jane.sender", "team_id": "T0STANDIN"},
        "api_app_id": "A0STANDIN",
        "view": {**view, "id": "V0000001", "hash": "h1", "state": {"values": values}},
    }


def opened(app: AppUnderTest) -> dict[str, Any]:
    view = app.slack.calls_to("views.open")[-1].args["view"]
    return view if isinstance(view, dict) else json.loads(view)


async def open_form(app: AppUnderTest) -> dict[str, Any]:
    assert acked(await app.command("", channel=new_channel())) == {}
    await app.settled()
    return opened(app)


async def fetch(app: AppUnderTest, url: str) -> httpx.Response:
    """GET a media link from the bot's HTTP app, as Sociocs would through PUBLIC_URL."""
    assert app.bot.media is not None
    web_app = build_web_app(None, lambda: (True, "ok"), extra_routes=[media_route(app.bot.media)])
    path = url.removeprefix(PUBLIC_URL)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=web_app), base_url="http://bot") as client:
        return await client.get(path)


def dms(app: AppUnderTest) -> list[str]:
    return [
        str(c.args.get("text")) for c in app.slack.calls_to("chat.postMessage") if c.args.get("channel") == "U0SENDER"
    ]


async def test_a_message_with_two_images_and_a_pdf_sends_them_as_media_links(make_app: Any):
    app = await make_app(PUBLIC_URL=PUBLIC_URL)
    files = [
        app.slack.add_file("one.jpg", JPEG, "image/jpeg"),
        app.slack.add_file("two.png", PNG, "image/png"),
        app.slack.add_file("invoice.pdf", PDF, "application/pdf"),
    ]
    await app.interaction(message_shortcut(files, new_channel()))
    await app.settled()
    view = opened(app)
    offered = next(b for b in view["blocks"] if b.get("block_id") == "attachment_files")["element"]
    assert [o["value"] for o in offered["options"]] == [f["id"] for f in files]
    assert offered["initial_options"] == offered["options"]  # all listed, each can be unticked
    number = new_number()
    assert acked(await app.interaction(submission(view, to=number, text="Your photos"))) == {}
    await app.settled()
    (payload,) = app.sent_to(number)
    assert payload["text"] == "Your photos" and "image_url" not in payload
    assert len(payload["image_urls"]) == 2 and payload["file_url"].startswith(f"{PUBLIC_URL}/media/")
    for url, original, kind in zip(
        [*payload["image_urls"], payload["file_url"]],
        [JPEG, PNG, PDF],
        ["image/jpeg", "image/png", "application/pdf"],
        strict=True,
    ):
        assert url.startswith(f"{PUBLIC_URL}/media/")
        served = await fetch(app, url)
        assert served.status_code == 200 and served.content == original
        assert served.headers["content-type"] == kind
    downloads = app.slack.calls_to("file_download")
    assert len(downloads) == 3 and all(d.token == app.slack.bot_token for d in downloads)
    assert not any(app.slack.bot_token in str(c.args) for c in app.slack.calls)  # never in a URL or a body


async def test_an_unticked_message_file_is_left_out(make_app: Any):
    app = await make_app(PUBLIC_URL=PUBLIC_URL)
    files = [app.slack.add_file("one.jpg", JPEG, "image/jpeg"), app.slack.add_file("two.png", PNG, "image/png")]
    await app.interaction(message_shortcut(files, new_channel()))
    await app.settled()
    number = new_number()
    assert acked(await app.interaction(submission(opened(app), to=number, ticked=[files[1]["id"]]))) == {}
    await app.settled()
    (payload,) = app.sent_to(number)
    assert "image_urls" not in payload
    assert (await fetch(app, payload["image_url"])).content == PNG


async def test_a_file_uploaded_in_the_form_is_sent(make_app: Any):
    app = await make_app(PUBLIC_URL=PUBLIC_URL)
    view = await open_form(app)
    upload = next(b for b in view["blocks"] if b.get("block_id") == "attachments")["element"]
    assert upload["type"] == "file_input" and set(upload["filetypes"]) == {"jpg", "jpeg", "png", "gif", "pdf"}
    number = new_number()
    photo = app.slack.add_file("photo.jpg", JPEG, "image/jpeg")
    assert acked(await app.interaction(submission(view, to=number, uploads=[photo]))) == {}
    await app.settled()
    (payload,) = app.sent_to(number)
    assert "text" not in payload
    assert (await fetch(app, payload["image_url"])).content == JPEG


async def test_too_large_or_wrong_type_is_refused_in_the_form(make_app: Any):
    app = await make_app(PUBLIC_URL=PUBLIC_URL)
    view = await open_form(app)
    number = new_number()
    big = {**app.slack.add_file("huge.png", PNG, "image/png"), "size": MAX_MEDIA_BYTES + 1}
    answer = acked(await app.interaction(submission(view, to=number, text="x", uploads=[big])))
    assert answer["response_action"] == "errors" and "at most 5 MB" in answer["errors"]["attachments"]
    text = app.slack.add_file("notes.txt", b"hello", "text/plain")
    answer = acked(await app.interaction(submission(view, to=number, text="x", uploads=[text])))
    assert "not a JPEG, PNG or GIF image or a PDF" in answer["errors"]["attachments"]
    two_pdfs = [app.slack.add_file(f"{n}.pdf", PDF, "application/pdf") for n in "ab"]
    answer = acked(await app.interaction(submission(view, to=number, text="x", uploads=two_pdfs)))
    assert "Only one file" in answer["errors"]["attachments"]
    await app.settled()
    assert not app.sent_to(number) and not app.slack.calls_to("files.info")


async def test_a_file_that_is_not_what_it_claims_is_not_sent(make_app: Any):
    app = await make_app(PUBLIC_URL=PUBLIC_URL)
    view = await open_form(app)
    number = new_number()
    fake = app.slack.add_file("photo.png", b"MZ\x90\x00 not an image", "image/png")
    assert acked(await app.interaction(submission(view, to=number, text="x", uploads=[fake]))) == {}
    await app.settled()
    assert not app.sent_to(number)
    assert any("Nothing was sent" in t and "photo.png is not really a JPEG or PNG or GIF" in t for t in dms(app))
    (record,) = [r for r in await app.bot.ledger.history("U0SENDER") if r.recipient == number]
    assert record.status is SendStatus.FAILED


async def test_tampered_unknown_and_expired_links_are_404(make_app: Any):
    app = await make_app(PUBLIC_URL=PUBLIC_URL)
    view = await open_form(app)
    number = new_number()
    photo = app.slack.add_file("photo.jpg", JPEG, "image/jpeg")
    await app.interaction(submission(view, to=number, uploads=[photo]))
    await app.settled()
    url = app.sent_to(number)[0]["image_url"]
    assert (await fetch(app, url)).status_code == 200
    media_id, _, mac = url.rsplit("/", 1)[1].partition(".")
    other_id = ("0" if media_id[0] != "0" else "1") + media_id[1:]
    for bad in (
        f"{media_id}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}",  # the signature altered
        f"{other_id}.{mac}",  # the id altered
        f"{'a' * 32}.{mac}",
        media_id,
        "..%2F..%2Fetc%2Fpasswd",
    ):
        answer = await fetch(app, f"{PUBLIC_URL}/media/{bad}")
        assert answer.status_code == 404 and answer.content == b""
    await app.bot.ledger._write(update(media_files).values(expires_at=datetime.now() - timedelta(days=400)))
    expired = await fetch(app, url)
    assert expired.status_code == 404 and expired.content == b""
    assert app.bot.media is not None and await app.bot.media.sweep() >= 1  # and the bytes are deleted


async def test_links_expire_ttl_after_the_send(make_app: Any):
    app = await make_app(PUBLIC_URL=PUBLIC_URL, MEDIA_URL_TTL_SECONDS="3600")
    view = await open_form(app)
    number = new_number()
    await app.interaction(submission(view, to=number, uploads=[app.slack.add_file("p.gif", b"GIF89a..", "image/gif")]))
    await app.settled()
    url = app.sent_to(number)[0]["image_url"]
    media_id = url.rsplit("/", 1)[1].partition(".")[0]
    assert app.bot.media is not None
    row = await app.bot.media._store.get(media_id)
    assert row is not None and row.content == b"GIF89a.." and row.content_type == "image/gif"
    left = row.expires_at - datetime.utcnow()
    assert timedelta(minutes=59) < left <= timedelta(hours=1)


async def test_without_public_url_an_upload_is_refused_saying_what_to_set(make_app: Any):
    app = await make_app()
    view = await open_form(app)
    number = new_number()
    photo = app.slack.add_file("photo.jpg", JPEG, "image/jpeg")
    answer = acked(await app.interaction(submission(view, to=number, uploads=[photo])))
    assert answer["response_action"] == "errors" and "PUBLIC_URL" in answer["errors"]["attachments"]
    await app.settled()
    assert not app.sent_to(number) and not app.slack.calls_to("file_download")


async def test_whatsapp_refuses_attachments(make_app: Any):
    app = await make_app(PUBLIC_URL=PUBLIC_URL)
    view = await open_form(app)
    number = new_number()
    photo = app.slack.add_file("photo.jpg", JPEG, "image/jpeg")
    answer = acked(await app.interaction(submission(view, to=number, provider="twlowa", uploads=[photo])))
    assert "WhatsApp (Twilio) cannot carry files uploaded in Slack" in answer["errors"]["attachments"]


async def test_a_file_on_a_host_that_is_not_slacks_is_never_fetched(make_app: Any, elsewhere: Elsewhere):
    app = await make_app(PUBLIC_URL=PUBLIC_URL)
    view = await open_form(app)
    external = app.slack.add_file("photo.jpg", JPEG, "image/jpeg", url=f"{elsewhere.url}/photo.jpg")
    redirected = app.slack.add_file("moved.jpg", JPEG, "image/jpeg", redirect_to=f"{elsewhere.url}/moved.jpg")
    numbers = [new_number(), new_number()]
    for number, file in zip(numbers, [external, redirected], strict=True):
        assert acked(await app.interaction(submission(view, to=number, text="x", uploads=[file]))) == {}
    await app.settled()
    assert elsewhere.calls == []  # neither the file's own URL nor the redirect was followed
    assert not any(app.sent_to(n) for n in numbers)
    told = dms(app)
    assert any("photo.jpg is not stored in Slack" in t for t in told)
    assert any("moved.jpg from somewhere else" in t for t in told)


async def test_a_scheduled_sends_links_expire_ttl_after_its_send_time(make_app: Any):
    from types import SimpleNamespace

    from bot.domain.media import Attachment
    from bot.slack.listeners.views.attachments import schedule_attachments

    app = await make_app(PUBLIC_URL=PUBLIC_URL, MEDIA_URL_TTL_SECONDS="600")
    assert app.bot.media is not None
    _, _, (media_id,) = await app.bot.media.reserve([Attachment("F0SCHEDULED", "p.jpg", "image/jpeg")])
    when = datetime.now().astimezone() + timedelta(days=3)
    await schedule_attachments(app.bot, SimpleNamespace(schedule=when), [media_id])  # type: ignore[arg-type]
    row = await app.bot.media._store.get(media_id)
    assert row is not None
    assert abs(row.expires_at - (when + timedelta(minutes=10)).astimezone(UTC).replace(tzinfo=None)) < timedelta(
        seconds=1
    )


async def test_slack_failing_during_the_download_sends_nothing_and_says_so(make_app: Any):
    app = await make_app(PUBLIC_URL=PUBLIC_URL)
    view = await open_form(app)
    number = new_number()
    assert app.bot.media is not None

    async def unreachable(**_: Any) -> Any:
        raise ConnectionError("Slack unreachable")

    app.bot.media._client.files_info = unreachable  # type: ignore[method-assign]
    photo = app.slack.add_file("photo.jpg", JPEG, "image/jpeg")
    assert acked(await app.interaction(submission(view, to=number, text="x", uploads=[photo]))) == {}
    await app.settled()
    assert not app.sent_to(number)
    assert any("could not download the attachments" in t for t in dms(app))
    (record,) = [r for r in await app.bot.ledger.history("U0SENDER") if r.recipient == number]
    assert record.status is SendStatus.FAILED


async def test_typing_in_the_form_keeps_the_message_files_listed(make_app: Any):
    app = await make_app(PUBLIC_URL=PUBLIC_URL)
    files = [app.slack.add_file("one.jpg", JPEG, "image/jpeg"), app.slack.add_file("notes.txt", b"x", "text/plain")]
    await app.interaction(message_shortcut(files, new_channel()))
    await app.settled()
    view = opened(app)
    state = submission(view, to="", text="typing")["view"]
    typing = {
        "type": "block_actions",
        "team": {"id": "T0STANDIN"},
        "user": {"id": "U0SENDER", "team_id": "T0STANDIN"},
        "api_app_id": "A0STANDIN",
        "trigger_id": trigger_id(),
        "view": state,
        "actions": [{"type": "plain_text_input", "action_id": "text", "block_id": "text", "value": "typing"}],
    }
    assert acked(await app.interaction(typing)) == {}
    await app.settled()
    updated = app.slack.calls_to("views.update")[-1].args["view"]
    updated = updated if isinstance(updated, dict) else json.loads(updated)
    ids = [b.get("block_id") for b in updated["blocks"]]
    assert ids[ids.index("video") + 1 :][:3] == ["attachment_files", "attachment_notes", "attachments"]
    notes = next(b for b in updated["blocks"] if b.get("block_id") == "attachment_notes")
    assert "notes.txt is not a JPEG, PNG or GIF image or a PDF" in json.dumps(notes)
    number = new_number()
    assert acked(await app.interaction(submission(updated, to=number, text="typing"))) == {}
    await app.settled()
    assert (await fetch(app, app.sent_to(number)[0]["image_url"])).content == JPEG
