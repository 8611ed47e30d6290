"""Generations: every ingest writes a complete new copy of the store, the lexical index and the
manifest, and then switches one small pointer file. Readers (the chat, ``kb ask``) follow the pointer,
so a question is answered from the old state or from the new one, never from a half-written mix, and
an ingest killed at any point leaves the current generation untouched (its unfinished copy is
removed by the next ingest).

Layout under the data folder::

    generations/current        the name of the current generation ("g000007")
    generations/g000007/       chroma/ (embedded store), bm25/, manifest.json
    generations/g000006/       the previous one, kept for readers that have not switched yet

A copy is cheap where it can be: a file with ``FROZEN`` in its name is never changed once written
(a new version is written under a temporary name and renamed into place), so the new generation links
to it instead of copying it. The lexical index's main matrix, the largest part after the store, is
kept so.

A data folder from before generations (``chroma/``, ``bm25/``, ``manifest.json`` directly in it) is
read as it is and copied into the first generation by the next ingest.
"""
from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

_NAME = re.compile(r"g(\d{6})")
FROZEN = ".frozen"
_PARTS = ("chroma", "bm25", "manifest.json")


@dataclass(frozen=True)
class Generation:
    """One complete state: where its store, lexical index and manifest live."""
    path: Path
    name: str  # "" for a data folder from before generations

    @property
    def chroma_dir(self) -> Path:
        return self.path / "chroma"

    @property
    def lexical_dir(self) -> Path:
        return self.path / "bm25"

    @property
    def manifest_path(self) -> Path:
        return self.path / "manifest.json"

    def collection(self, base: str) -> str:
        """The collection name on a Chroma server, where each generation has its own collection."""
        return f"{base}-{self.name}" if self.name else base


class Generations:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.root = data_dir / "generations"
        self.pointer = self.root / "current"

    def stamp(self) -> str:
        """Changes whenever an ingest switches generations; cheap enough to read on every question."""
        try:
            return self.pointer.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return ""

    def current(self) -> Generation:
        name = self.stamp()
        if name and _NAME.fullmatch(name) and (self.root / name).is_dir():
            return Generation(self.root / name, name)
        return Generation(self.data_dir, "")  # before the first ingest, or a folder from before generations

    def begin(self, fresh: bool = False) -> Generation:
        """A new generation to write into, as a copy of the current one (empty with ``fresh``). The
        caller holds the writer lock; leftovers of a killed ingest are removed first."""
        self.root.mkdir(parents=True, exist_ok=True)
        for leftover in self.root.glob("*.partial"):
            shutil.rmtree(leftover, ignore_errors=True)
        numbers = [int(m.group(1)) for p in self.root.iterdir() if (m := _NAME.fullmatch(p.name))]
        name = f"g{max(numbers, default=0) + 1:06d}"
        target = self.root / f"{name}.partial"
        target.mkdir()
        if not fresh:
            source = self.current().path
            for part in _PARTS:
                if (source / part).is_dir():
                    shutil.copytree(source / part, target / part, copy_function=_link_or_copy)
                elif (source / part).is_file():
                    shutil.copy2(source / part, target / part)
        return Generation(target, name)

    def commit(self, new: Generation) -> Generation:
        """Make ``new`` the current generation (one atomic rename of the pointer), then delete all but
        it and the one before it."""
        previous = self.current()
        final = self.root / new.name
        new.path.rename(final)
        tmp = self.pointer.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as handle:
            handle.write(new.name + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.pointer)
        _fsync_dir(self.root)
        keep = {new.name, previous.name}
        for old in self.root.iterdir():
            if _NAME.fullmatch(old.name) and old.name not in keep:
                shutil.rmtree(old, ignore_errors=True)
        if previous.name:  # a folder from before generations is no longer needed once one generation is old
            for part in _PARTS:
                legacy = self.data_dir / part
                shutil.rmtree(legacy, ignore_errors=True) if legacy.is_dir() else legacy.unlink(missing_ok=True)
        return Generation(final, new.name)

    def abort(self, new: Generation) -> None:
        shutil.rmtree(new.path, ignore_errors=True)

    def names(self) -> list[str]:
        """Every complete generation on disk (for `kb doctor` and cleaning a Chroma server)."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if _NAME.fullmatch(p.name))


def _link_or_copy(source: str, target: str) -> None:
    if FROZEN in Path(source).name:
        try:
            os.link(source, target)
            return
        except OSError:  # another file system, or links not allowed: a copy is as good, only slower
            pass
    shutil.copy2(source, target)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
