"""Kept rulebook and catalog versions: the bytes behind every digest a record can name.

Content-addressed: a digest is the primary key, so keeping a version twice (two workers starting
at once, two replicas) stores it once, and a stored version never changes. The bytes are kept
exactly: the digest of what is read back is checked against the key before it is used.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

import msgspec
from sqlalchemy import Engine, Table, insert, select
from sqlalchemy.exc import IntegrityError

from advisor.audit.formats import utc_now
from advisor.costs.catalog import LoadedCatalog, decode_catalog
from advisor.domain.rules import Rulebook
from advisor.rules.rulebook import rulebook_from_files
from advisor.store.tables import catalog_versions, rulebook_versions

_files = msgspec.json.Decoder(dict[str, str])


class VersionStore:
    """Reads and writes ``rulebook_versions`` and ``catalog_versions``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def keep(self, rulebook: Rulebook, catalogs: Iterable[LoadedCatalog]) -> None:
        """Store the versions a server loaded, before any record can name them; known ones are left alone."""
        if rulebook.files:
            files = {stem: raw.decode("utf-8") for stem, raw in rulebook.files}
            self._insert_once(rulebook_versions, rulebook.digest, {"files": msgspec.json.encode(files).decode("utf-8")})
        for loaded in catalogs:
            if loaded.raw:
                self._insert_once(catalog_versions, loaded.digest,
                                  {"catalog_id": loaded.id, "raw": loaded.raw.decode("utf-8")})

    def _insert_once(self, table: Table, digest: str, values: Mapping[str, str]) -> None:
        with self.engine.connect() as conn:
            if conn.execute(select(table.c.digest).where(table.c.digest == digest)).first() is not None:
                return
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(table).values(digest=digest, first_seen=utc_now(), **values))
        except IntegrityError:  # another process kept it between the look and the insert: same bytes
            return

    def rulebook(self, digest: str) -> Rulebook | None:
        """The kept rulebook with this digest, rebuilt from its files; None when it was never kept."""
        with self.engine.connect() as conn:
            text = conn.execute(select(rulebook_versions.c.files)
                                .where(rulebook_versions.c.digest == digest)).scalar()
        if text is None:
            return None
        book = rulebook_from_files({stem: body.encode("utf-8") for stem, body in _files.decode(text).items()},
                                   f"kept rulebook {digest}")
        if book.digest != digest:
            raise ValueError(f"kept rulebook {digest} reads back as {book.digest}")
        return book

    def catalog(self, catalog_id: str, digest: str) -> LoadedCatalog | None:
        """The kept version of catalog ``catalog_id`` with this digest; None when it was never kept."""
        with self.engine.connect() as conn:
            text = conn.execute(select(catalog_versions.c.raw).where(
                catalog_versions.c.digest == digest, catalog_versions.c.catalog_id == catalog_id)).scalar()
        if text is None:
            return None
        raw = text.encode("utf-8")
        if "sha256:" + hashlib.sha256(raw).hexdigest() != digest:
            raise ValueError(f"kept catalog {digest} reads back with another digest")
        return decode_catalog(raw, f"kept catalog {digest}")
