"""One file's unflushed data: whole 4 KiB pages over its durable contents.

The current contents of a file are, byte by byte: the dirty page holding the byte if
there is one, else the durable contents if the byte lies below `base_limit`, else zero.
`base_limit` is the smallest size the file had since its last flush (never more than the
durable size), so that shrinking and growing again reads zeros, not the old bytes the
store still holds. A dirty page always holds zeros past the file's size.

Pages are whole (a partial write into a clean page first copies the page's durable bytes)
so that a flush writes whole runs of pages with one call, and a 4 KiB-aligned writer (a
filesystem on a loop device, a block store) never causes a read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tandem.lab.disk.types import PAGE, Buffer

BaseReader = Callable[[int, int], bytes]  # (offset, size) -> durable bytes


@dataclass(frozen=True)
class FlushPlan:
    """What makes the durable contents equal the current ones, in this order: cut the
    store's file to `cut` (if set), write each run of pages, then set the size to
    `resize` (if set)."""

    cut: int | None
    runs: list[tuple[int, list[Buffer]]]
    resize: int | None

    @property
    def nbytes(self) -> int:
        return sum(len(b) for _, bufs in self.runs for b in bufs)


@dataclass
class FileData:
    size: int
    durable_size: int = -1
    base_limit: int = -1
    pages: dict[int, bytearray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.durable_size < 0:
            self.durable_size = self.size
        if self.base_limit < 0:
            self.base_limit = self.size

    @property
    def dirty(self) -> bool:
        return (
            bool(self.pages)
            or self.size != self.durable_size
            or self.base_limit < self.durable_size
        )

    @property
    def dirty_bytes(self) -> int:
        return len(self.pages) * PAGE

    # --- reading and writing -------------------------------------------------------------

    def _base(self, offset: int, size: int, base: BaseReader) -> bytes:
        durable = max(0, min(size, self.base_limit - offset))
        data = base(offset, durable) if durable else b""
        if len(data) < size:
            data += bytes(size - len(data))
        return data

    def read(self, offset: int, size: int, base: BaseReader) -> bytes:
        end = min(offset + size, self.size)
        if offset >= end:
            return b""
        if not self.pages:
            return self._base(offset, end - offset, base)
        pieces: list[Buffer] = []
        pos = offset
        while pos < end:
            index = pos // PAGE
            page = self.pages.get(index)
            if page is not None:
                start = pos - index * PAGE
                stop = min(PAGE, end - index * PAGE)
                pieces.append(page[start:stop])
                pos = index * PAGE + stop
                continue
            run_end = pos
            while run_end < end and (run_end // PAGE) not in self.pages:
                run_end = min(end, (run_end // PAGE + 1) * PAGE)
            pieces.append(self._base(pos, run_end - pos, base))
            pos = run_end
        return b"".join(pieces)

    def write(self, offset: int, data: Buffer, base: BaseReader) -> None:
        view = memoryview(data)
        end = offset + len(view)
        pos = offset
        if offset % PAGE == 0 and len(view) >= PAGE:
            # Whole pages, the common case (a filesystem or block store above): no read.
            whole = len(view) // PAGE
            first = offset // PAGE
            pages = self.pages
            for k in range(whole):
                pages[first + k] = bytearray(view[k * PAGE : (k + 1) * PAGE])
            pos = offset + whole * PAGE
        while pos < end:
            index = pos // PAGE
            start = pos - index * PAGE
            stop = min(PAGE, end - index * PAGE)
            chunk = view[pos - offset : pos - offset + stop - start]
            page = self.pages.get(index)
            if page is None:
                if start == 0 and stop == PAGE:
                    self.pages[index] = bytearray(chunk)
                    pos += PAGE
                    continue
                page = bytearray(self._base(index * PAGE, PAGE, base))
                self.pages[index] = page
            page[start:stop] = chunk
            pos = index * PAGE + stop
        self.size = max(self.size, end)

    def truncate(self, size: int) -> None:
        if size < self.size:
            first_gone = -(-size // PAGE)  # pages wholly at or past the new end
            for index in [i for i in self.pages if i >= first_gone]:
                del self.pages[index]
            tail = self.pages.get(size // PAGE)
            if tail is not None and size % PAGE:
                tail[size % PAGE :] = bytes(PAGE - size % PAGE)
            self.base_limit = min(self.base_limit, size)
        self.size = size

    # --- flushing ------------------------------------------------------------------------

    def flush_plan(self) -> FlushPlan:
        cut = self.base_limit if self.base_limit < self.durable_size else None
        length = min(self.base_limit, self.durable_size)
        runs: list[tuple[int, list[Buffer]]] = []
        indices = sorted(self.pages)
        i = 0
        while i < len(indices):
            j = i
            while j + 1 < len(indices) and indices[j + 1] == indices[j] + 1:
                j += 1
            first, last = indices[i], indices[j]
            buffers: list[Buffer] = [self.pages[k] for k in indices[i : j + 1]]
            run_end = min((last + 1) * PAGE, self.size)
            if run_end < (last + 1) * PAGE:
                buffers[-1] = memoryview(buffers[-1])[: run_end - last * PAGE]
            runs.append((first * PAGE, buffers))
            length = max(length, run_end)
            i = j + 1
        resize = self.size if length != self.size else None
        return FlushPlan(cut, runs, resize)

    def flushed(self) -> None:
        """The plan was carried out: the durable contents are the current ones."""
        self.pages.clear()
        self.durable_size = self.size
        self.base_limit = self.size

    def discard(self) -> None:
        """Drop the unflushed data (the file is gone for good, nothing can read it)."""
        self.pages.clear()
