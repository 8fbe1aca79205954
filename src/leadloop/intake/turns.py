"""Batches that write one after another, each planned before the one ahead of it committed (the
chunks of an import in several processes, see import_workers.py): what one hands on to the next.
No Django here: the import's processes load this before they set Django up."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass
class Written:
    """What a batch stored that a batch planned on an earlier reading must not plan again: the
    valid phones and e-mails of the contacts it made or filled, the stored contacts it opened a
    lead for or filled (by id) and its touches' dedupe keys."""

    phones: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    contacts: set[int] = field(default_factory=set)
    dedupe_keys: set[str] = field(default_factory=set)

    def update(self, other: Written) -> None:
        self.phones |= other.phones
        self.emails |= other.emails
        self.contacts |= other.contacts
        self.dedupe_keys |= other.dedupe_keys


class Turn(Protocol):
    """Batches that write one after another (the chunks of an import in several processes).
    `wait` is called before a batch first writes or locks anything, maybe more than once;
    `stamp` when it starts reading; `written_since(stamp)` tells what the batches before it
    stored after that (None when unknown); `wrote` is told what the batch stores."""

    def wait(self) -> None: ...

    def stamp(self) -> int: ...

    def written_since(self, stamp: int) -> Written | None: ...

    def wrote(self, written: Written) -> None: ...
