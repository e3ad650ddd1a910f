"""What bench.load's clients send next: a new Idempotency-Key or a retry, a session's next event, a memory to write.

Called under the ledger's lock, so the reservations of per-user quotas and the keys and memories chosen are consistent
across clients; every random choice comes from the client's own seeded generator.
"""

import random
import uuid
from typing import Any

from bench.load_ledger import Ledger, MemoryEntry, SessionEntry, StartKey
from bench.load_population import (
    CREDITS_PER_VIDEO,
    MEMORY_TYPES,
    MEMORY_WRITES_PER_HOUR,
    PHRASES,
    PRO_DAILY_RUNS,
    START,
    STEP_NAMES,
    WRITE_MEMORY,
)


def choose_start(ledger: Ledger, rng: random.Random) -> tuple[StartKey, dict[str, Any], set[int], str] | None:
    """(key, body, expected statuses, mode): mostly a new key; else a retry of an answered key (200), a retry of
    one still in flight (200 or 201: either attempt may win), or an answered key with another body (422)."""
    acked = [k for k in ledger.keys.values() if k.answers]
    pending = [k for k in ledger.keys.values() if not k.answers]
    roll = rng.random()
    if acked and roll < 0.15:
        entry = rng.choice(acked)
        return entry, entry.body, {200}, "retry"
    if acked and roll < 0.18:
        entry = rng.choice(acked)
        return entry, {**entry.body, "goal": entry.body["goal"] + " (edited)"}, {422}, "reuse"
    if pending and roll < 0.22:
        entry = rng.choice(pending)
        return entry, entry.body, {200, 201}, "retry"
    fresh = new_key(ledger, rng)
    # 200 too: another client's retry of this key, sent while this attempt is in flight, may be the one that wins.
    return None if fresh is None else (fresh, fresh.body, {200, 201}, "new")


def new_key(ledger: Ledger, rng: random.Random) -> StartKey | None:
    """A fresh Idempotency-Key for a user with runs left today; None when every user has used them up."""
    candidates = [u for u in ledger.population.users if ledger.reserved[(u.index, START)] < PRO_DAILY_RUNS]
    if not candidates:
        return None
    user = rng.choice(candidates)
    ledger.reserve(user.index, START, PRO_DAILY_RUNS)
    videos = rng.randint(1, 3)
    body = {
        "goal": f"Generate video ads: {rng.choice(PHRASES)}",
        "constraints": {"max_videos": videos, "aspect_ratio": rng.choice(["9:16", "1:1", "16:9", "4:5"])},
    }
    entry = StartKey(user.index, f"load-{uuid.uuid4().hex}", body, videos * CREDITS_PER_VIDEO)
    ledger.keys[entry.key] = entry
    return entry


def next_event(session: SessionEntry, rng: random.Random) -> dict[str, Any]:
    """The session's next §6 event: a step's life (start, tool call and result, progress, reasoning, completion),
    now and then an error it recovers from or (once per session) a question; session_completed once it has sent its
    share."""
    body: dict[str, Any] = {"session_id": str(session.id)}
    if session.sent >= session.events_target:
        session.closing = True
        return {**body, "action_type": "session_completed", "status": "success", "result": {"videos_generated": 3}}
    step = STEP_NAMES[min(session.sent // 6, len(STEP_NAMES) - 1)]
    roll = rng.random()
    if roll < 0.04:
        return {**body, "action_type": "error", "error_message": "tool timed out", "recovery_strategy": "retry"}
    if roll < 0.07 and not session.asked:
        session.asked = True
        options = [{"value": "a", "label": "Option A"}, {"value": "b", "label": "Option B"}]
        return {**body, "action_type": "user_input_required", "question": "Which hook?", "options": options}
    tool = rng.choice(["meta_ads_search", "tiktok_trends", "video_render"])
    return [
        {**body, "action_type": "step_started", "step_name": step},
        {**body, "action_type": "tool_called", "tool_name": tool, "input_data": {"query": "competitor ads", "limit": 20}},
        {**body, "action_type": "tool_result", "tool_name": tool, "status": "success",
         "output_data": {"items": rng.randint(1, 50)}, "execution_time_ms": rng.randint(50, 5000)},
        {**body, "action_type": "step_progress", "step_name": step, "progress_percentage": rng.randint(10, 90)},
        {**body, "action_type": "reasoning_update", "step_name": step, "reasoning": "Short hooks win.",
         "confidence_score": round(rng.random(), 3)},
        {**body, "action_type": "step_completed", "step_name": step, "result": {"ok": True}},
    ][session.sent % 6]  # fmt: skip


def choose_memory(ledger: Ledger, rng: random.Random) -> tuple[MemoryEntry, set[int]] | None:
    """A new memory (201) for a user with writes left this hour, or now and then the same content again (200)."""
    candidates = [u for u in ledger.population.users if ledger.reserved[(u.index, WRITE_MEMORY)] < MEMORY_WRITES_PER_HOUR]
    if not candidates:
        return None
    user = rng.choice(candidates)
    ledger.reserve(user.index, WRITE_MEMORY, MEMORY_WRITES_PER_HOUR)
    mine = [m for m in ledger.memories.values() if m.user == user.index and m.answers]
    if mine and rng.random() < 0.25:
        return rng.choice(mine), {200}
    content = f"{rng.choice(PHRASES).capitalize()} (note {uuid.uuid4().hex[:10]})."
    entry = MemoryEntry(user.index, rng.choice(MEMORY_TYPES), content)
    ledger.memories[(entry.user, entry.memory_type, entry.content)] = entry
    return entry, {201}
