"""The dirty bitmap (DR-4): one bit per 4 KiB block, like DRBD's.

4 KiB because that is the filesystem's and the page cache's unit: a write never dirties
less, and an 8 GiB volume needs a 256 KiB bitmap. Counts per chunk keep "next dirty block"
and "how many" fast without scanning the whole map; pages that changed since the last
persist are tracked so that only those are written to disk.
"""

from __future__ import annotations

from collections.abc import Iterator

BLOCK = 4096
CHUNK = 8192  # blocks per counted chunk
PAGE_BLOCKS = BLOCK * 8  # blocks per 4 KiB page of the bitmap file


class Bitmap:
    def __init__(self, blocks: int, data: bytes | None = None) -> None:
        self.blocks = blocks
        self.bits = bytearray((blocks + 7) // 8)
        self.chunks = [0] * ((blocks + CHUNK - 1) // CHUNK)
        self.dirty_pages: set[int] = set()
        if data:
            self.bits[: len(data)] = data[: len(self.bits)]
            self._recount()

    def _recount(self) -> None:
        for c in range(len(self.chunks)):
            lo, hi = c * CHUNK // 8, min(len(self.bits), (c + 1) * CHUNK // 8)
            self.chunks[c] = sum(bin(b).count("1") for b in self.bits[lo:hi])

    @property
    def count(self) -> int:
        return sum(self.chunks)

    def test(self, block: int) -> bool:
        return bool(self.bits[block >> 3] & (1 << (block & 7)))

    def set(self, block: int) -> None:
        i, m = block >> 3, 1 << (block & 7)
        if not self.bits[i] & m:
            self.bits[i] |= m
            self.chunks[block // CHUNK] += 1
            self.dirty_pages.add(block // PAGE_BLOCKS)

    def clear(self, block: int) -> None:
        i, m = block >> 3, 1 << (block & 7)
        if self.bits[i] & m:
            self.bits[i] &= ~m & 0xFF
            self.chunks[block // CHUNK] -= 1
            self.dirty_pages.add(block // PAGE_BLOCKS)

    def set_range(self, start: int, count: int) -> None:
        end = min(self.blocks, start + count)
        block = start
        while block < end and block & 7:
            self.set(block)
            block += 1
        while block + 8 <= end:
            if self.bits[block >> 3] != 0xFF:
                for b in range(block, block + 8):
                    self.set(b)
            block += 8
        while block < end:
            self.set(block)
            block += 1

    def set_all(self) -> None:
        self.set_range(0, self.blocks)

    def clear_all(self) -> None:
        for c, n in enumerate(self.chunks):
            if n:
                lo, hi = c * CHUNK // 8, min(len(self.bits), (c + 1) * CHUNK // 8)
                self.bits[lo:hi] = bytes(hi - lo)
                self.chunks[c] = 0
                first, last = c * CHUNK // PAGE_BLOCKS, ((c + 1) * CHUNK - 1) // PAGE_BLOCKS
                self.dirty_pages.update(range(first, last + 1))

    def next_set(self, start: int) -> int | None:
        """The first dirty block at or after `start`, or None."""
        c = start // CHUNK
        while c < len(self.chunks):
            if self.chunks[c]:
                lo = max(start, c * CHUNK)
                hi = min(self.blocks, (c + 1) * CHUNK)
                block = lo
                while block < hi:
                    byte = self.bits[block >> 3]
                    if byte == 0 and not block & 7:
                        block += 8
                        continue
                    if byte & (1 << (block & 7)):
                        return block
                    block += 1
            c += 1
            start = c * CHUNK
        return None

    def iter_set(self) -> Iterator[int]:
        block = self.next_set(0)
        while block is not None:
            yield block
            block = self.next_set(block + 1)

    def ranges(self) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        for block in self.iter_set():
            if out and out[-1][0] + out[-1][1] == block:
                out[-1] = (out[-1][0], out[-1][1] + 1)
            else:
                out.append((block, 1))
        return out

    def take_dirty_pages(self) -> dict[int, bytes]:
        """The bitmap file's 4 KiB pages that changed since the last call."""
        pages = {p: bytes(self.bits[p * BLOCK : (p + 1) * BLOCK]) for p in sorted(self.dirty_pages)}
        self.dirty_pages.clear()
        return pages


def size_text(blocks: int) -> str:
    """An amount of blocks as an operator reads it: 4 KiB, 50.0 MiB, 1.0 GiB."""
    size = blocks * BLOCK
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20)):
        if size >= factor:
            return f"{size / factor:.1f} {unit}"
    return f"{size // 1024} KiB"


def blocks_of(offset: int, length: int) -> range:
    return range(offset // BLOCK, (offset + max(length, 1) - 1) // BLOCK + 1)
