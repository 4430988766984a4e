"""Progress bars of the slow commands and benchmarks (rich, on stderr).

One look for every ``costrouter`` command and benchmark: a spinner, the step's description, a
bar when the amount of work is known, the count and the elapsed time. Bars are drawn only on a terminal, and never with
``--no-progress``: output piped to a file or read by a test stays clean.

Usage::

    with Steps(enabled=not args.no_progress) as steps:
        data = steps.run("loading data", load, path)
        for chunk in steps.track(chunks, "scoring pairs", total=len(chunks)):
            ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any, TypeVar

__all__ = ["Steps", "progress_enabled"]

T = TypeVar("T")


def progress_enabled(no_progress: bool) -> bool:
    """Whether to draw bars: not asked off, and stderr is a terminal."""
    if no_progress:
        return False
    from rich.console import Console

    return Console(stderr=True).is_terminal


def _ignore(_n: float = 1) -> None:
    """``advance`` of a disabled display."""


class Steps:
    """A rich progress display for a command's steps; a no-op when disabled.

    Args:
        enabled: Draw bars (see :func:`progress_enabled`).
    """

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self._progress: Any = None

    def __enter__(self) -> Steps:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def add(self, description: str, total: float | None = None) -> Callable[[float], None]:
        """Starts a step; returns ``advance(n)``. ``total=None`` shows a pulsing bar."""
        if self._progress is None:
            return _ignore
        progress = self._progress
        task = progress.add_task(description, total=total)

        def advance(n: float = 1) -> None:
            progress.advance(task, n)

        return advance

    def status(self, description: str) -> Callable[[str], None]:
        """Starts a step of unknown length; returns ``say(message)``, which shows its latest message."""
        if self._progress is None:
            return lambda _m: None
        progress = self._progress
        task = progress.add_task(description, total=None)

        def say(message: str) -> None:
            progress.update(task, description=f"{description}: {message}")

        return say

    def run(self, description: str, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Runs one step of unknown length under a pulsing bar that completes when it returns."""
        if self._progress is None:
            return func(*args, **kwargs)
        task = self._progress.add_task(description, total=None)
        try:
            return func(*args, **kwargs)
        finally:
            self._progress.update(task, total=1, completed=1)

    def track(self, items: Iterable[T], description: str, *, total: float | None = None) -> Iterator[T]:
        """Yields ``items``, advancing a bar by one for each."""
        advance = self.add(description, total)
        for item in items:
            yield item
            advance(1)
