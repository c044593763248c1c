"""A one-line progress bar for management commands (no dependency for twenty lines)."""

from __future__ import annotations

WIDTH = 30


class ProgressBar:
    """Redraws `[#####.....] done/total label` in place on a terminal. On a pipe or in a log,
    where carriage returns garble the output, it writes a `[done/total] label` line now and
    then instead."""

    def __init__(self, stream, total: int, *, every: int = 25):
        self.stream = stream
        self.total = total
        self.every = every
        self.tty = getattr(stream, "isatty", lambda: False)()

    def update(self, done: int, label: str = "") -> None:
        if self.tty:
            filled = WIDTH * done // self.total if self.total else WIDTH
            line = f"[{'#' * filled}{'.' * (WIDTH - filled)}] {done}/{self.total} {label}"
            self.stream.write(f"\r{line[:100]:<100}", style_func=str, ending="")
            if done >= self.total:
                self.stream.write("", style_func=str)
        elif done % self.every == 0 or done >= self.total:
            self.stream.write(f"[{done}/{self.total}] {label}", style_func=str)
        self.stream.flush()
