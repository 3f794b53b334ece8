"""Bolt's signature check, trusting the front door (`bot.front_door.slack_endpoint`).

The front door verifies Slack's signature on the raw bytes before anything parses them and marks the
request `VERIFIED` in Bolt's context; Bolt need not check it again. Requests that reach Bolt any other
way are still verified.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_bolt.middleware.request_verification.async_request_verification import AsyncRequestVerification
from slack_bolt.response import BoltResponse

VERIFIED = "front_door_verified"  # set in Bolt's context by `slack_endpoint` only, never from a request


class FrontDoorVerification(AsyncRequestVerification):
    """Bolt's signature check, skipped for requests the front door has already verified."""

    async def async_process(
        self, *, req: AsyncBoltRequest, resp: BoltResponse, next: Callable[[], Awaitable[BoltResponse]]
    ) -> BoltResponse:
        if req.context.get(VERIFIED) is True:
            return await next()
        return await super().async_process(req=req, resp=resp, next=next)


def trust_front_door(app: AsyncApp, signing_secret: str) -> None:
    """Swap Bolt's verification middleware for one that trusts `slack_endpoint`'s check. Requests
    that reach Bolt any other way are still verified."""
    middlewares = app._async_middleware_list
    for index, middleware in enumerate(middlewares):
        if type(middleware) is AsyncRequestVerification:
            middlewares[index] = FrontDoorVerification(signing_secret, base_logger=app.logger)
