"""Re-hosting Slack files for Sociocs: Slack files need the bot token, Sociocs needs public links.

`reserve` gives each chosen file a signed, expiring `PUBLIC_URL/media/{token}` link and records it
(before Slack gets its answer); `fetch` downloads the file from Slack and stores its bytes in the
ledger's database (before the send goes out, and again on demand if a link is asked for before its
bytes are there, e.g. after a restart); `serve` answers `GET /media/{token}`.

The bot token goes only to Slack: file ids come from the interaction, their download URLs from Slack's
own `files.info`, and the token is sent only to Slack's file hosts (or SLACK_API_URL's host), with
redirects followed by hand and only to those hosts. It is never logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from slack_sdk.errors import SlackApiError

from bot.domain.media import (
    ACCEPTED_TYPES,
    FILE_TYPES,
    IMAGE_TYPES,
    MAX_MEDIA_BYTES,
    Attachment,
    MediaRefused,
    may_fetch,
    media_key,
    media_url,
    new_token,
    sniff,
    token_id,
    type_problem,
)
from bot.ledger import MediaFiles, MediaRow
from bot.slack.outbox import PacedWebClient

log = logging.getLogger(__name__)

MAX_REDIRECTS = 3
DOWNLOAD_TIMEOUT_SECONDS = 20.0
SWEEP_EVERY_SECONDS = 600.0


class Rehoster:
    """Slack files turned into public links that expire; one per bot, shared by every listener."""

    def __init__(
        self,
        client: PacedWebClient,
        store: MediaFiles,
        *,
        bot_token: str,
        api_url: str,
        public_url: str | None,
        ttl_seconds: int,
    ) -> None:
        self._client = client
        self._store = store
        self._token = bot_token
        self._key = media_key(bot_token)
        self._api_url = api_url
        self.public_url = public_url
        self._ttl = timedelta(seconds=ttl_seconds)
        self._http: httpx.AsyncClient | None = None  # made on first download: see `_downloads`
        self._fetching: dict[str, asyncio.Task[tuple[str, bytes]]] = {}

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    def _downloads(self) -> httpx.AsyncClient:
        """The client for Slack's file hosts, made when the first file is downloaded: making it loads the
        CA certificates (some 40 ms of CPU and 1 MB), which start-up need not wait for, nor a bot that is
        never sent a file keep."""
        if self._http is None:
            self._http = httpx.AsyncClient(follow_redirects=False, timeout=DOWNLOAD_TIMEOUT_SECONDS)
        return self._http

    # Before the acknowledgement ------------------------------------------------------------------------

    async def reserve(
        self, attachments: Sequence[Attachment], *, send_at: datetime | None = None
    ) -> tuple[list[str], str | None, list[str]]:
        """(image links, file link, media ids) for the chosen files, recorded to expire MEDIA_URL_TTL_SECONDS
        after `send_at` (now when None). Needs PUBLIC_URL (checked by the caller)."""
        assert self.public_url, "reserve needs PUBLIC_URL"
        images: list[str] = []
        file_url: str | None = None
        rows: list[tuple[str, str, str]] = []
        for attachment in attachments:
            media_id, token = new_token(self._key)
            rows.append((media_id, attachment.file_id, attachment.kind))
            if attachment.kind == "file":
                file_url = media_url(self.public_url, token)
            else:
                images.append(media_url(self.public_url, token))
        start = (send_at or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
        await self._store.reserve(rows, start + self._ttl)
        return images, file_url, [m for m, _, _ in rows]

    async def send_at(self, media_ids: Sequence[str], when: datetime) -> None:
        """The send goes out at `when` (a scheduled send): its links expire MEDIA_URL_TTL_SECONDS after that."""
        await self._store.expire_at(media_ids, when.astimezone(UTC).replace(tzinfo=None) + self._ttl)

    # After the acknowledgement, before the send --------------------------------------------------------

    async def fetch_all(self, media_ids: Sequence[str]) -> None:
        """Download every reserved file into the store; MediaRefused (saying which and why) if one fails."""
        for media_id in media_ids:
            row = await self._store.get(media_id)
            if row is None:
                raise MediaRefused("An attachment's link expired before it could be sent.")
            if row.content is None:
                await self._fetch_once(row)

    async def _fetch_once(self, row: MediaRow) -> tuple[str, bytes]:
        """One download per media id at a time, however many ask (the send, and Sociocs's fetch)."""
        task = self._fetching.get(row.id)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._fetch(row), name="media-fetch")
            self._fetching[row.id] = task
            task.add_done_callback(lambda _: self._fetching.pop(row.id, None))
        return await asyncio.shield(task)

    async def _fetch(self, row: MediaRow) -> tuple[str, bytes]:
        info = await self._file_info(row.file_id)
        name = str(info.get("name") or info.get("title") or row.file_id)
        mimetype = str(info.get("mimetype") or "").lower() or None
        problem = type_problem(name, mimetype, info.get("size") if isinstance(info.get("size"), int) else None)
        if problem:
            raise MediaRefused(problem)
        url = info.get("url_private_download") or info.get("url_private")
        if not isinstance(url, str) or not may_fetch(url, self._api_url):
            log.warning("refused to download Slack file %s: its URL is not on a Slack file host", row.file_id)
            raise MediaRefused(f"{name} is not stored in Slack, so it cannot be sent.")
        content = await self._download(url, name)
        kind = sniff(content)
        wanted = FILE_TYPES if row.kind == "file" else IMAGE_TYPES
        if kind is None or kind not in wanted:
            raise MediaRefused(f"{name} is not really a {' or '.join(wanted.values())} file, so it cannot be sent.")
        await self._store.fill(row.id, kind, content)
        log.info("re-hosted Slack file %s (%s, %d bytes)", row.file_id, kind, len(content))
        return kind, content

    async def _file_info(self, file_id: str) -> dict[str, Any]:
        try:
            response = await self._client.files_info(file=file_id)
        except SlackApiError as exc:
            error = str(exc.response.get("error", "unknown_error"))
            log.warning("could not read Slack file %s: %s", file_id, error)
            raise MediaRefused(f"Slack would not give the bot the file {file_id} ({error}).") from None
        file = response.get("file")
        if not isinstance(file, dict) or file.get("id") != file_id:
            raise MediaRefused(f"Slack would not give the bot the file {file_id}.")
        return file

    async def _download(self, url: str, name: str) -> bytes:
        """The file's bytes, the token sent only where `may_fetch` allows, redirects included."""
        for _ in range(MAX_REDIRECTS + 1):
            if not may_fetch(url, self._api_url):
                log.warning("refused to follow a Slack file redirect to %s", httpx.URL(url).host or "(no host)")
                raise MediaRefused(f"Slack sent {name} from somewhere else, so the bot did not download it.")
            try:
                async with self._downloads().stream(
                    "GET", url, headers={"Authorization": f"Bearer {self._token}"}
                ) as response:
                    if response.is_redirect:
                        url = str(response.url.join(response.headers.get("location", "")))
                        continue
                    if response.status_code != 200:
                        log.warning("downloading a Slack file answered HTTP %d", response.status_code)
                        status = response.status_code
                        raise MediaRefused(f"Slack would not let the bot download {name} (HTTP {status}).")
                    declared = response.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > MAX_MEDIA_BYTES:
                        raise MediaRefused(type_problem(name, None, int(declared)) or name)
                    chunks: list[bytes] = []
                    size = 0
                    async for chunk in response.aiter_bytes():
                        size += len(chunk)
                        if size > MAX_MEDIA_BYTES:
                            raise MediaRefused(type_problem(name, None, size) or name)
                        chunks.append(chunk)
                    return b"".join(chunks)
            except httpx.HTTPError as exc:
                log.warning("could not download a Slack file (%s)", type(exc).__name__)
                raise MediaRefused(f"The bot could not download {name} from Slack: try again shortly.") from None
        raise MediaRefused(f"Slack redirected {name} too many times.")

    # GET /media/{token} --------------------------------------------------------------------------------

    async def serve(self, token: str) -> tuple[str, bytes] | None:
        """(content type, bytes) for a genuine, unexpired token; None for anything else."""
        media_id = token_id(self._key, token)
        if media_id is None:
            return None
        row = await self._store.get(media_id)
        if row is None:
            return None
        if row.content is not None and row.content_type in ACCEPTED_TYPES:
            return row.content_type, row.content
        try:  # asked for before its bytes were stored (a send recovered after a restart)
            return await self._fetch_once(row)
        except MediaRefused as exc:
            log.warning("could not serve a media link: %s", exc)
            return None

    # Housekeeping ----------------------------------------------------------------------------------------

    async def sweep(self) -> int:
        deleted = await self._store.delete_expired()
        if deleted:
            log.info("deleted %d expired re-hosted file(s)", deleted)
        return deleted


async def sweep_forever(rehoster: Rehoster, every: float = SWEEP_EVERY_SECONDS) -> None:
    """Delete expired files now and every `every` seconds (any replica may; deleting is idempotent)."""
    while True:
        try:
            await rehoster.sweep()
        except Exception as exc:
            log.warning("could not delete expired re-hosted files (%s)", type(exc).__name__)
        await asyncio.sleep(every)
