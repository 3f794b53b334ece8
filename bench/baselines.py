"""The two baselines the bot is measured against, each served by uvicorn exactly as the bot is.

- `floor`: a raw ASGI app that verifies the Slack v0 signature and answers 200. Nothing can be faster
  on this server stack, so it is the floor for acknowledgement latency.
- `peer`: a bare Bolt `App` (sync) whose `/sms` listener only acknowledges, served through Bolt's own
  ASGI adapter (`slack_bolt.adapter.asgi.SlackRequestHandler`) under uvicorn: the stack Bolt documents.

Both use uvicorn's settings as bot/serve.py does (no access log, lifespan off), so the only difference
is the app. Run by bench/run.py: `python bench/baselines.py floor|peer --port P ...`.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def floor_app(signing_secret: str) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    secret = signing_secret.encode()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        status = 200
        if scope["method"] == "POST":
            headers = dict(scope["headers"])
            timestamp = headers.get(b"x-slack-request-timestamp", b"")
            signature = headers.get(b"x-slack-signature", b"")
            try:
                fresh = abs(time.time() - int(timestamp)) <= 300
            except ValueError:
                fresh = False
            expected = b"v0=" + hmac.new(secret, b"v0:" + timestamp + b":" + body, hashlib.sha256).hexdigest().encode()
            if not fresh or not hmac.compare_digest(expected, signature):
                status = 401
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})

    return app


def peer_app(signing_secret: str, bot_token: str, slack_api_url: str) -> Any:
    from slack_bolt import App
    from slack_bolt.adapter.asgi import SlackRequestHandler
    from slack_sdk import WebClient

    app = App(client=WebClient(token=bot_token, base_url=slack_api_url), signing_secret=signing_secret)

    @app.command("/sms")
    def sms(ack: Any) -> None:
        ack()

    return SlackRequestHandler(app)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["floor", "peer"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--signing-secret", required=True)
    parser.add_argument("--bot-token", default="")
    parser.add_argument("--slack-api-url", default="")
    args = parser.parse_args()
    if args.kind == "floor":
        app = floor_app(args.signing_secret)
    else:
        app = peer_app(args.signing_secret, args.bot_token, args.slack_api_url)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False, lifespan="off")


if __name__ == "__main__":
    main()
