"""bench.load's event workload keeps to the API's rules, so that an answer it counts as an error is one."""

import random
import uuid

from bench.load_ledger import SessionEntry
from bench.load_requests import next_event


def test_a_session_under_load_asks_at_most_one_question() -> None:
    """Nobody answers under load, and a second question while one is open is 409 QUESTION_PENDING (issue 14)."""
    rng = random.Random(7)
    sessions = [SessionEntry(uuid.uuid4(), user=0, events_target=200) for _ in range(20)]
    asked = []
    for session in sessions:
        kinds = []
        while not session.closing:
            kinds.append(next_event(session, rng)["action_type"])
            session.sent += 1
        asked.append(kinds.count("user_input_required"))
    assert max(asked) == 1
    assert sum(asked) > 10
