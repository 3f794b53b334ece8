"""Re-hosted Slack files: their bytes live in the ledger's own database.

So the store sits wherever the ledger does: with PostgreSQL every replica serves every link (whichever
one Sociocs's fetch reaches); with SQLite the bytes are in the database file on the data volume, beside
the sends. A row is reserved (file id, expiry) before Slack gets its answer; its bytes are filled in
once downloaded from Slack; it is deleted once expired.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, DateTime, Index, LargeBinary, String, Table, select, update

from bot.ledger._schema import metadata
from bot.ledger._store import Ledger, now

media_files = Table(
    "media_files",
    metadata,
    Column("id", String(32), primary_key=True),  # the random half of the link's token
    Column("created_at", DateTime(), nullable=False),
    Column("expires_at", DateTime(), nullable=False),
    Column("file_id", String(32), nullable=False),  # the Slack file it copies
    Column("kind", String(8), nullable=False),  # "image" or "file"
    Column("content_type", String(64)),  # set with the bytes, from the bytes themselves
    Column("content", LargeBinary()),  # None until downloaded from Slack
    Index("ix_media_files_expires", "expires_at"),
)


@dataclass(frozen=True, slots=True)
class MediaRow:
    id: str
    file_id: str
    kind: str
    expires_at: datetime
    content_type: str | None
    content: bytes | None


class MediaFiles:
    """The media table, on the ledger's engines (writes through its group-commit writer)."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    async def reserve(self, rows: Sequence[tuple[str, str, str]], expires_at: datetime) -> None:
        """Rows (media id, Slack file id, kind) with no bytes yet; durable when it returns."""
        if not rows:
            return
        stamp = now()
        await self._ledger._write(
            media_files.insert().values(
                [{"id": m, "created_at": stamp, "expires_at": expires_at, "file_id": f, "kind": k} for m, f, k in rows]
            )
        )

    async def fill(self, media_id: str, content_type: str, content: bytes) -> None:
        await self._ledger._write(
            update(media_files).where(media_files.c.id == media_id).values(content_type=content_type, content=content)
        )

    async def expire_at(self, media_ids: Sequence[str], expires_at: datetime) -> None:
        """Move the expiry of reserved files (a scheduled send: its links must outlive the schedule)."""
        if media_ids:
            await self._ledger._write(
                update(media_files).where(media_files.c.id.in_(list(media_ids))).values(expires_at=expires_at)
            )

    async def get(self, media_id: str) -> MediaRow | None:
        """The row, unless missing or expired."""
        async with self._ledger._reads.connect() as conn:
            row = (
                await conn.execute(
                    select(media_files).where(media_files.c.id == media_id, media_files.c.expires_at > now())
                )
            ).first()
        if row is None:
            return None
        return MediaRow(row.id, row.file_id, row.kind, row.expires_at, row.content_type, row.content)

    async def delete_expired(self) -> int:
        """Delete every expired file; how many."""
        return await self._ledger._write(media_files.delete().where(media_files.c.expires_at <= now()))
