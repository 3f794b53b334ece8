"""`GET /media/{token}`: Slack files re-hosted for Sociocs, served in both modes by the HTTP listener.

A genuine, unexpired token gets the bytes with their real content type; anything else gets the same
empty 404, so a probe learns nothing (not whether a token ever existed, nor why it fails).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.slack.media import Rehoster


def media_route(media: Rehoster) -> Route:
    async def serve(request: Request) -> Response:
        found = await media.serve(str(request.path_params.get("token", "")))
        if found is None:
            return Response(status_code=404, headers={"Cache-Control": "no-store"})
        content_type, content = found
        return Response(
            content,
            media_type=content_type,
            headers={"Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff"},
        )

    return Route("/media/{token:path}", serve, methods=["GET"])
