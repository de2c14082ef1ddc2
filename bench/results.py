"""Collects benchmark figures and writes ``bench/results.json`` plus a table on stdout.

One entry per case: name, value, unit, baseline (the case it is compared
with, or null), ratio (value / baseline value, oriented so that > 1 means
ddbload is better; null without a baseline) and suite (the suite that recorded
it). Re-running a suite replaces every entry that suite wrote before, so a
quick run never leaves a full run's figures beside its own.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

RESULTS_PATH = Path(__file__).with_name("results.json")


@dataclass
class Entry:
    name: str
    value: float
    unit: str
    baseline: str | None = None
    ratio: float | None = None
    note: str | None = None
    suite: str | None = None


@dataclass
class Results:
    entries: list[Entry] = field(default_factory=list)
    current_suite: str | None = None

    @contextmanager
    def suite(self, name: str) -> Iterator[None]:
        """Tag every entry recorded in the block with suite ``name``."""
        previous, self.current_suite = self.current_suite, name
        try:
            yield
        finally:
            self.current_suite = previous

    def record(
        self,
        name: str,
        value: float,
        unit: str,
        *,
        baseline: str | None = None,
        higher_is_better: bool = True,
        note: str | None = None,
    ) -> Entry:
        """Add a figure; with ``baseline`` (an earlier entry's name) compute the ratio."""
        ratio = None
        if baseline is not None:
            base = self.get(baseline)
            if base.value and value:
                ratio = value / base.value if higher_is_better else base.value / value
        entry = Entry(
            name,
            round(value, 3),
            unit,
            baseline,
            None if ratio is None else round(ratio, 2),
            note,
            self.current_suite,
        )
        self.entries.append(entry)
        print(
            f"  {entry.name:<52} {entry.value:>14,.2f} {entry.unit:<10}"
            + (f" x{entry.ratio:<7} vs {entry.baseline}" if entry.ratio is not None else ""),
            flush=True,
        )
        return entry

    def get(self, name: str) -> Entry:
        for e in self.entries:
            if e.name == name:
                return e
        raise KeyError(f"no benchmark entry named {name!r}")

    def write(self, path: Path = RESULTS_PATH) -> None:
        """Write this run's entries; entries of suites not run this time are kept.

        An old entry goes when its suite ran again, or when it has the name of a new
        entry; old entries without a suite tag (written before tags existed) cannot be
        attributed and go too.
        """
        mine = {e.name for e in self.entries}
        suites = {e.suite for e in self.entries if e.suite}
        kept: list[dict] = []
        if path.exists():
            try:
                kept = [
                    e
                    for e in json.loads(path.read_text())["entries"]
                    if e.get("suite") and e["suite"] not in suites and e["name"] not in mine
                ]
            except (ValueError, KeyError):
                kept = []
        doc = {
            "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": {
                "python": platform.python_version(),
                "cpus": _cpus(),
                "platform": platform.platform(),
            },
            "entries": kept + [asdict(e) for e in self.entries],
        }
        path.write_text(json.dumps(doc, indent=2) + "\n")

    def table(self) -> str:
        rows = [f"{'case':<52} {'value':>14} {'unit':<10} {'ratio':>7}  baseline"]
        for e in self.entries:
            ratio = f"{e.ratio:.2f}" if e.ratio is not None else ""
            rows.append(
                f"{e.name:<52} {e.value:>14,.2f} {e.unit:<10} {ratio:>7}  {e.baseline or ''}"
            )
        return "\n".join(rows)


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))
