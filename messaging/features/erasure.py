"""Facts of the erasures before personal data was sealed (``personal``).

Forgetting a person once searched every stored payload, answer and error
for their address and name and rewrote what it found, in batches. It could
not tell a copy from a coincidence (a username equal to a currency code
rewrote every price), so forgetting now throws away the person's key
instead and needs no search. These events stay in the history of databases
that ran the old erasures; they are loaded and shown, never delivered.
"""

from dataclasses import dataclass
from uuid import UUID

from ..messages import Event


@dataclass(frozen=True, kw_only=True)
class ErasureBatchScheduled(Event):
    """Part of an erasure, left to a delivery of its own."""

    erasure_id: UUID
    kind: str
    first: int
    last: int


@dataclass(frozen=True, kw_only=True)
class CopiesErased(Event):
    """One batch of an erasure ran: ``rows`` of ``kind`` were rewritten."""

    erasure_id: UUID
    kind: str
    rows: int


@dataclass(frozen=True, kw_only=True)
class ErasureCompleted(Event):
    """Every copy an erasure looked for was erased."""

    erasure_id: UUID
