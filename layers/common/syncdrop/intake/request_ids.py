"""Remembers which request ids a file has used, and the row that used each one first."""

from __future__ import annotations

import os
import tempfile
from array import array
from collections.abc import Callable
from typing import IO

# 4,096 buckets (hash bits 0 to 11) of 16-bit fingerprints (bits 12 to 27).
_BUCKETS = 4096
# The ids themselves, in 64 partitions (hash bits 0 to 5: a bucket's ids share one), go to
# disk in blocks.
_PARTITIONS = 64
_BLOCK_IDS = 256
# Duplicates confirmed lately: a file that repeats one id on every row reads no block.
_KNOWN_DUPLICATES = 1024


class RequestIdIndex:
    """The first row of every request id claimed so far: exact, in about 2 bytes an id.

    A dict of a million ids takes ~100 MB. This keeps a 16-bit fingerprint of each id's
    hash in memory, as one character of its bucket's string (``in`` runs in C), and the
    ids with their rows in blocks in a temporary file once a file has thousands of them.
    A fingerprint match is only a candidate: it is confirmed against the real ids of the
    id's partition, so "already used by row N" is never a guess. Ids never contain a line
    break (request ids are [A-Za-z0-9._-]).
    """

    def __init__(self, hash_of: Callable[[str], int] = hash) -> None:
        self._hash_of = hash_of
        # Per bucket, one character per id: a 16-bit fingerprint (hash bits 12 to 27).
        self._prints = [""] * _BUCKETS
        self._pending_ids: list[list[str]] = [[] for _ in range(_PARTITIONS)]
        self._pending_rows = [array("q") for _ in range(_PARTITIONS)]
        # Per partition: (offset, ids, size) of each block written.
        self._blocks = [array("q") for _ in range(_PARTITIONS)]
        self._spill: IO[bytes] | None = None
        self._duplicates: dict[str, int] = {}
        self.claim = self._claimer()

    def _claimer(self) -> Callable[[str, int], int]:
        """claim(request_id, row): ``row`` when the id is new (it is now taken), else the row
        that took it. A closure over locals, not a method: it runs once per row."""
        prints_of, pending_ids, pending_rows = self._prints, self._pending_ids, self._pending_rows
        first_row, write_block, hash_of = self._first_row, self._write_block, self._hash_of
        block_ids = _BLOCK_IDS

        def claim(request_id: str, row: int) -> int:
            digest = hash_of(request_id)
            fingerprint = chr(digest >> 12 & 0xFFFF)
            bucket = digest & 4095
            prints = prints_of[bucket]
            if fingerprint in prints:
                first = first_row(digest, request_id)
                if first is not None:
                    return first
            # Not seen (or only its fingerprint, on another id): remember it.
            prints_of[bucket] = prints + fingerprint
            partition = bucket & 63
            ids = pending_ids[partition]
            ids.append(request_id)
            pending_rows[partition].append(row)
            if len(ids) >= block_ids:
                write_block(partition)
            return row

        return claim

    def close(self) -> None:
        if self._spill is not None:
            self._spill.close()
            self._spill = None

    def _first_row(self, digest: int, request_id: str) -> int | None:
        known = self._duplicates.get(request_id)
        if known is not None:
            return known
        partition = digest & 63
        ids = self._pending_ids[partition]
        if request_id in ids:
            first: int | None = self._pending_rows[partition][ids.index(request_id)]
        else:
            first = self._first_row_on_disk(partition, request_id)
        if first is not None:
            if len(self._duplicates) >= _KNOWN_DUPLICATES:
                self._duplicates.clear()
            self._duplicates[request_id] = first
        return first

    def _write_block(self, partition: int) -> None:
        if self._spill is None:
            self._spill = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        ids, rows = self._pending_ids[partition], self._pending_rows[partition]
        body = rows.tobytes() + "\n".join(ids).encode()
        offset = self._spill.seek(0, os.SEEK_END)
        self._spill.write(body)
        self._blocks[partition].extend((offset, len(ids), len(body)))
        ids.clear()
        del rows[:]

    def _first_row_on_disk(self, partition: int, request_id: str) -> int | None:
        if self._spill is None:
            return None
        wanted = b"\n" + request_id.encode() + b"\n"
        blocks = self._blocks[partition]
        for at in range(0, len(blocks), 3):
            offset, count, size = blocks[at], blocks[at + 1], blocks[at + 2]
            self._spill.seek(offset)
            body = self._spill.read(size)
            rows = array("q")
            rows_size = count * rows.itemsize
            text = b"\n" + body[rows_size:] + b"\n"
            found = text.find(wanted)
            if found >= 0:  # the block's n-th id has n line breaks before it
                rows.frombytes(body[:rows_size])
                return rows[text.count(b"\n", 0, found)]
        return None
