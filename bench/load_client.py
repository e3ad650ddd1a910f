"""bench.load's Client: sends each route's requests and checks every answer it gets against what was acknowledged."""

import json
import random
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from bench.load_http import Http
from bench.load_ledger import Ledger, Sample, SessionEntry
from bench.load_population import (
    EVENT,
    EVENTS,
    MEMORY_READS_PER_HOUR,
    METRICS,
    ORDER_BY,
    PHRASES,
    READ_MEMORY,
    ROUTES,
    START,
    STATUS,
    TRACE,
    TRACES,
    WRITE_MEMORY,
    LoadUser,
)
from bench.load_requests import choose_memory, choose_start, next_event


@dataclass
class Client:
    http: Http
    ledger: Ledger
    rng: random.Random
    samples: list[Sample] = field(default_factory=list)

    @property
    def users(self) -> tuple[LoadUser, ...]:
        return self.ledger.population.users

    def call(
        self, kind: str, method: str, path: str, user: LoadUser, expected: set[int], body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], Any]:  # fmt: skip
        """Sends, records the sample, and returns the parsed body when the status was expected (else None)."""
        status, answer_headers, raw, ms = self.http.send(method, path, user.token, body, headers)
        if status not in expected:
            reason = "transport" if status == 0 else f"unexpected {status}"
            self.samples.append(Sample(ROUTES[kind], status, ms, f"{reason}: {raw[:300].decode(errors='replace')}"))
            return status, answer_headers, None
        self.samples.append(Sample(ROUTES[kind], status, ms))
        try:
            return status, answer_headers, json.loads(raw) if raw else {}
        except ValueError:
            self.violation(f"{ROUTES[kind]} answered {status} with a body that is not JSON")
            return status, answer_headers, None

    def violation(self, message: str) -> None:
        """Marks the last sample an error: its status was right, what it said was not."""
        last = self.samples.pop()
        self.samples.append(Sample(last.route, last.status, last.ms, f"invariant: {message}"))

    def other_user(self, user: LoadUser) -> LoadUser | None:
        others = [u for u in self.users if u.index != user.index]
        return self.rng.choice(others) if others else None

    # --- POST /agent/start ---

    def start(self) -> None:
        with self.ledger.lock:
            chosen = choose_start(self.ledger, self.rng)
        if chosen is None:
            self.trace_detail()  # every user has used up the day's runs: read something else
            return
        entry, body, expected, mode = chosen
        user = self.users[entry.user]
        status, headers, answer = self.call(START, "POST", "/agent/start", user, expected, body, {"idempotency-key": entry.key})
        if answer is None:
            return
        if mode == "reuse":
            if answer.get("error_code") != "IDEMPOTENCY_KEY_REUSED":
                self.violation(f"key reuse answered {answer.get('error_code')}")
            with self.ledger.lock:
                self.ledger.expected_refusals["idempotency key reused (422)"] += 1
            return
        session_id = str(answer.get("session_id"))
        if status == 200 and headers.get("idempotent-replayed") != "true":
            self.violation("a replay without Idempotent-Replayed: true")
        with self.ledger.lock:
            first = entry.session_id
            entry.answers.append((status, session_id))
            if first is not None and first != session_id:
                self.violation(f"key {entry.key} answered session {session_id} after {first}")
                return
            sid = uuid.UUID(session_id)
            if sid not in self.ledger.sessions:
                self.ledger.sessions[sid] = SessionEntry(sid, entry.user, events_target=self.rng.randint(4, 14))

    # --- POST /agent/event ---

    def event(self) -> None:
        with self.ledger.lock:
            open_sessions = self.ledger.open_sessions()
            if not open_sessions:
                session = None
            else:
                session = self.rng.choice(open_sessions)
                body = next_event(session, self.rng)
                session.sent += 1
        if session is None:
            self.start()  # nothing to report on yet
            return
        user = self.users[session.user]
        status, _, answer = self.call(EVENT, "POST", "/agent/event", user, {200, 409}, body)
        if answer is None:
            return
        with self.ledger.lock:
            if status == 409:
                if not session.closing or answer.get("error_code") != "SESSION_ENDED":
                    self.violation(f"409 {answer.get('error_code')} on a session not being completed")
                session.ended_answers += 1
                return
            seq = answer.get("seq")
            if not isinstance(seq, int):
                self.violation("no seq in the answer")
                return
            if seq in session.acked:
                session.acked_twice.append(seq)
                self.violation(f"seq {seq} acknowledged twice in session {session.id}")
                return
            session.acked[seq] = uuid.UUID(answer["log_id"])
            if body["action_type"] == "session_completed":
                session.completed_seq = seq
                if answer.get("session_status") != "completed":
                    self.violation(f"session_completed left the session {answer.get('session_status')}")

    # --- GET /agent/status and /agent/events ---

    def pick_session(self) -> tuple[SessionEntry, int, bool] | None:
        with self.ledger.lock:
            if not self.ledger.sessions:
                return None
            session = self.rng.choice(list(self.ledger.sessions.values()))
            return session, session.max_acked, session.completed_seq is not None

    def status(self) -> None:
        picked = self.pick_session()
        if picked is None:
            self.start()
            return
        session, acked_before, completed_before = picked
        params = urlencode({"session_id": str(session.id)})
        owner = self.users[session.user]
        other = self.other_user(owner)
        if other is not None and self.rng.random() < 0.08:
            # Another user's session must be invisible: the same 404 as a session that does not exist.
            _, _, answer = self.call(STATUS, "GET", f"/agent/status?{params}", other, {404})
            if answer is not None:
                if answer.get("error_code") != "SESSION_NOT_FOUND":
                    self.violation(f"another user's session answered {answer.get('error_code')}")
                with self.ledger.lock:
                    self.ledger.expected_refusals["another user's session (404)"] += 1
            return
        _, _, answer = self.call(STATUS, "GET", f"/agent/status?{params}", owner, {200})
        if answer is None:
            return
        if answer["last_seq"] < acked_before:
            self.violation(f"status last_seq {answer['last_seq']} behind acknowledged seq {acked_before}")
        elif completed_before and answer["status"] != "completed":
            self.violation(f"status {answer['status']} after an acknowledged session_completed")

    def events(self) -> None:
        picked = self.pick_session()
        if picked is None:
            self.start()
            return
        session, acked_before, _ = picked
        after = self.rng.randint(0, acked_before)
        params = urlencode({"session_id": str(session.id), "after_seq": after, "limit": 100})
        _, _, answer = self.call(EVENTS, "GET", f"/agent/events?{params}", self.users[session.user], {200})
        if answer is None:
            return
        seqs = [event["seq"] for event in answer["events"]]
        if seqs != list(range(after + 1, after + 1 + len(seqs))):
            self.violation(f"events after {after} are not contiguous: {seqs[:20]}")
        elif len(seqs) < min(100, acked_before - after):
            self.violation(f"{len(seqs)} events after {after}, but {acked_before - after} were acknowledged")
        else:
            with self.ledger.lock:
                wrong = [e["seq"] for e in answer["events"] if str(session.acked.get(e["seq"], e["log_id"])) != e["log_id"]]
            if wrong:
                self.violation(f"events {wrong[:5]} carry another log_id than acknowledged")

    # --- memory ---

    def write_memory(self) -> None:
        with self.ledger.lock:
            chosen = choose_memory(self.ledger, self.rng)
        if chosen is None:
            self.read_memory()
            return
        entry, expected = chosen
        body = {"content": entry.content, "memory_type": entry.memory_type, "metadata": {"source": "bench.load"}}
        status, _, answer = self.call(WRITE_MEMORY, "POST", "/agent/write-memory", self.users[entry.user], expected, body)
        if answer is None:
            return
        memory, deduplicated = answer["memory"], answer["deduplicated"]
        with self.ledger.lock:
            first = entry.answers[0][1] if entry.answers else None
            entry.answers.append((status, memory["id"], deduplicated))
        if deduplicated != (status == 200):
            self.violation(f"status {status} with deduplicated={deduplicated}")
        elif first is not None and memory["id"] != first:
            self.violation(f"rewrite of a memory answered id {memory['id']}, first {first}")
        elif (memory["content"], memory["memory_type"]) != (entry.content, entry.memory_type):
            self.violation("the stored memory differs from the one written")

    def read_memory(self) -> None:
        with self.ledger.lock:
            candidates = [u for u in self.users if self.ledger.reserved[(u.index, READ_MEMORY)] < MEMORY_READS_PER_HOUR]
            user = self.rng.choice(candidates) if candidates else None
            if user is not None:
                self.ledger.reserve(user.index, READ_MEMORY, MEMORY_READS_PER_HOUR)
        if user is None:
            self.status()
            return
        params = urlencode({"query": self.rng.choice(PHRASES), "limit": 5})
        _, _, answer = self.call(READ_MEMORY, "GET", f"/agent/read-memory?{params}", user, {200})
        if answer is None:
            return
        if not answer["results"] and self.ledger.population.brand_memory_embedded:
            self.violation("no memory found, not even the brand memory")
        with self.ledger.lock:
            self.ledger.acked_reads[user.index] += 1
            self.ledger.memory_hits.setdefault(user.index, set()).update(hit["id"] for hit in answer["results"])

    # --- traces ---

    def traces_list(self) -> None:
        user = self.rng.choice(self.users)
        population, other = self.ledger.population, self.other_user(user)
        if other is not None and self.rng.random() < 0.05:
            params = urlencode({"project_id": str(other.project_id)})
            _, _, answer = self.call(TRACES, "GET", f"/v4/traces?{params}", user, {404})
            if answer is not None:
                with self.ledger.lock:
                    self.ledger.expected_refusals["another user's project (404)"] += 1
            return
        limit = self.rng.choice([5, 10, 20])
        order = self.rng.choice(ORDER_BY)
        params = urlencode({"project_id": str(user.project_id), "limit": limit, "order_by": order})
        _, _, answer = self.call(TRACES, "GET", f"/v4/traces?{params}", user, {200})
        if answer is None:
            return
        ids = [row["trace_id"] for row in answer["traces"]]
        if answer["totals"]["traces"] != population.traces_per_project:
            self.violation(f"totals.traces {answer['totals']['traces']}, the project has {population.traces_per_project}")
        elif set(ids) - set(user.trace_ids) or len(ids) != min(limit, population.traces_per_project):
            self.violation(f"the list shows {ids}, not {min(limit, population.traces_per_project)} of the project's traces")

    def trace_detail(self) -> None:
        user = self.rng.choice(self.users)
        trace_id = self.rng.choice(user.trace_ids)
        _, _, answer = self.call(TRACE, "GET", f"/v4/traces/{trace_id}?project_id={user.project_id}", user, {200})
        if answer is None:
            return
        spans = self.ledger.population.spans_per_trace
        if (answer["trace_id"], answer["span_count"], len(answer["spans"])) != (trace_id, spans, spans):
            self.violation(f"trace {answer['trace_id']} with {answer['span_count']} spans, expected {trace_id} with {spans}")

    def metrics(self) -> None:
        user = self.rng.choice(self.users)
        _, _, answer = self.call(METRICS, "GET", f"/v4/meterics/project?project_id={user.project_id}", user, {200})
        if answer is None:
            return
        population = self.ledger.population
        traces, spans = population.traces_per_project, population.traces_per_project * population.spans_per_trace
        if (answer["trace_count"], answer["span_count"]) != (traces, spans):
            self.violation(f"metrics count {answer['trace_count']} traces / {answer['span_count']} spans")

    def act(self, kind: str) -> None:
        getattr(self, kind)()
