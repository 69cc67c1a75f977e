"""A stand-in daemon on a Unix socket (tandem.rpc, its own event loop in a thread): the
web is what the tests here check; the real daemons answer the same way in the lab."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from tandem import rpc

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class StandIn:
    def __init__(self, path: Path, handle: Handler) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.loop = asyncio.new_event_loop()
        self.server = self.loop.run_until_complete(rpc.serve(path, handle))
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        """Every connection ended and the loop closed, here and now: a connection left
        pending would be finished by the garbage collector, after its loop has gone, and
        pytest would blame whichever test runs then. Closing twice is fine."""
        if self.loop.is_closed():
            return

        async def shut() -> None:
            self.server.close()
            current = asyncio.current_task()
            pending = [t for t in asyncio.all_tasks() if t is not current]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shut(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()
        self.path.unlink(missing_ok=True)
