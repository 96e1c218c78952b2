"""Multi-fidelity checkpoints of one study: training states in files next to the database.

``<db>.checkpoints/study-<id>/<trial>.pt``, each written to a temporary file and renamed into
place (a checkpoint is never half-written), then recorded in the ``checkpoints`` table in the
same transaction as its trial's result. A study in an in-memory database keeps them in memory.
Workers never read these files: the runner ships a checkpoint with the trial that continues it
(``Proposal.checkpoint``), so any process or cluster node can run any rung.
"""

from __future__ import annotations

import contextlib
import os

from seqnas.storage.sqlite import Storage, StudyRow


class Checkpoints:
    def __init__(self, storage: Storage, study: StudyRow) -> None:
        self.storage, self.study = storage, study
        self.dir = storage.checkpoint_dir(study)
        self._memory: dict[int, bytes] = {}

    def write(self, number: int, data: bytes) -> tuple[str, int]:
        """Put the file in place; returns (name, size) for ``Storage.finish_trial`` to record."""
        name = f"{number}.pt"
        if self.dir is None:
            self._memory[number] = data
            return name, len(data)
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dir / f".{name}.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.dir / name)
        return name, len(data)

    def read(self, number: int) -> bytes | None:
        """The stored training state of trial ``number`` (None: none kept; the rung then trains from scratch)."""
        if self.dir is None:
            return self._memory.get(number)
        name = self.storage.checkpoints(self.study).get(number)
        if name is None:
            return None
        try:
            return (self.dir / name).read_bytes()
        except OSError:
            return None

    def drop(self, number: int) -> None:
        if self.dir is None:
            self._memory.pop(number, None)
            return
        name = self.storage.checkpoints(self.study).get(number)
        if name is not None:
            self.storage.drop_checkpoint(self.study, number)  # the row first: a file without a row is never read
            with contextlib.suppress(OSError):
                (self.dir / name).unlink()

    def keep_only(self, numbers: set[int]) -> None:
        """Remove every checkpoint but those of ``numbers`` (the end of a study: the best's), and any
        temporary file a kill left behind mid-write."""
        held = set(self._memory) if self.dir is None else set(self.storage.checkpoints(self.study))
        for number in sorted(held - numbers):
            self.drop(number)
        if self.dir is not None and self.dir.is_dir():
            for tmp in self.dir.glob(".*.tmp"):
                with contextlib.suppress(OSError):
                    tmp.unlink()
