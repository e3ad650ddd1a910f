"""bench.load's ledger of what the API acknowledged (sessions, Idempotency-Keys, memories) and the Sample of each answer."""

import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.load_population import Population


@dataclass
class SessionEntry:
    id: uuid.UUID
    user: int
    events_target: int
    sent: int = 0
    acked: dict[int, uuid.UUID] = field(default_factory=dict)  # seq -> log_id
    acked_twice: list[int] = field(default_factory=list)
    closing: bool = False  # session_completed sent: from then on a 409 SESSION_ENDED is the right answer
    # Nobody answers questions under load, and a second one while the first is open is a 409 QUESTION_PENDING.
    asked: bool = False
    completed_seq: int | None = None
    ended_answers: int = 0

    @property
    def max_acked(self) -> int:
        return max(self.acked, default=0)


@dataclass
class StartKey:
    user: int
    key: str
    body: dict[str, Any]
    cost: int
    answers: list[tuple[int, str]] = field(default_factory=list)  # (status, session_id)

    @property
    def session_id(self) -> str | None:
        return self.answers[0][1] if self.answers else None


@dataclass
class MemoryEntry:
    user: int
    memory_type: str
    content: str
    answers: list[tuple[int, str, bool]] = field(default_factory=list)  # (status, id, deduplicated)


@dataclass
class Ledger:
    """Everything the clients share, behind one lock: choices and acknowledgements are made under it."""

    population: Population
    lock: threading.Lock = field(default_factory=threading.Lock)
    sessions: dict[uuid.UUID, SessionEntry] = field(default_factory=dict)
    keys: dict[str, StartKey] = field(default_factory=dict)
    memories: dict[tuple[int, str, str], MemoryEntry] = field(default_factory=dict)
    memory_hits: dict[int, set[str]] = field(default_factory=dict)
    acked_reads: Counter[int] = field(default_factory=Counter)
    reserved: Counter[tuple[int, str]] = field(default_factory=Counter)
    # Answers that are not an acknowledgement but must still be accounted for (422 key reuse, 404 isolation probes).
    expected_refusals: Counter[str] = field(default_factory=Counter)

    def open_sessions(self) -> list[SessionEntry]:
        return [s for s in self.sessions.values() if not s.closing]

    def reserve(self, user: int, action: str, limit: int) -> bool:
        """Counts a use against the API's quota before it is sent, so the mix never runs into a 429 by itself."""
        if self.reserved[(user, action)] >= limit:
            return False
        self.reserved[(user, action)] += 1
        return True


@dataclass(frozen=True)
class Sample:
    route: str
    status: int
    ms: float
    error: str | None = None  # set when the answer counts as an error: unexpected status, transport, invariant
