"""A generator run one step ahead on a second thread (the engine's chunk producer).

Reading gzip JSON and building load files (Arrow, GIL released) overlaps with
the merge of the previous chunk (PyMySQL waits on the server with the GIL
released); at most ``ahead`` items are alive at once, so memory stays bounded.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass
class _Raised:
    error: BaseException


class Prefetch:
    """Runs a generator on a second thread, at most ``ahead`` items alive at once.

    The consumer calls ``done_with_one`` after each item it finished with, and ``close``
    always: it stops the producer (closing its generator, so readers close) and joins it.
    An exception in the producer is raised to the consumer at that point of the stream.
    """

    _END = object()

    def __init__(self, items: Iterator[Any], *, ahead: int) -> None:
        self._items = items
        self._queue: queue.Queue[Any] = queue.Queue()
        self._slots = threading.Semaphore(ahead)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="ddbload-prefetch", daemon=True)
        self._thread.start()

    def _produce(self) -> None:
        try:
            while True:
                while not self._slots.acquire(timeout=0.1):
                    if self._stop.is_set():
                        return
                if self._stop.is_set():
                    return
                try:
                    item = next(self._items)
                except StopIteration:
                    self._queue.put(self._END)
                    return
                self._queue.put(item)
        except BaseException as e:  # noqa: BLE001 - handed to the consumer, raised there
            self._queue.put(_Raised(e))
        finally:
            with contextlib.suppress(Exception):
                self._items.close()  # type: ignore[attr-defined]

    def __iter__(self) -> Iterator[Any]:
        while True:
            item = self._queue.get()
            if item is self._END:
                return
            if isinstance(item, _Raised):
                raise item.error
            yield item

    def done_with_one(self) -> None:
        self._slots.release()

    def close(self) -> None:
        self._stop.set()
        self._slots.release()
        self._thread.join()
