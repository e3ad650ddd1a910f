"""Under intermittent faults, exactly what was acknowledged is stored: nothing lost, nothing duplicated, no gaps.

Each test mixes successes and failures of one backing service, then compares the 2xx answers with the rows, and
retries the failed requests once the service is back. (Events under a failing Realtime: test_realtime_faults.py;
events across a Postgres restart: test_postgres_down.py.)
"""

import hashlib
import json
from typing import Any

import psycopg

from tests.factories import User, create_session
from tests.faults.conftest import Configure
from tests.faults.stubs import Reply, Request, ScriptedServer, json_reply
from tests.faults.support import count, rate_limit_hits
from tests.http_stub import openai_embeddings
from tests.lambda_invoke import Result, invoke

VECTOR = [0.04] * 1024
THROTTLED = json_reply({"error": {"message": "Rate limit reached"}}, 429, {"retry-after": "1"})


def stored_memories(admin: psycopg.Connection[Any], user: User) -> list[str]:
    rows = admin.execute(
        "SELECT content FROM agentmode.agent_memory WHERE user_id = %s AND memory_type = 'insight' ORDER BY content", (user.id,)
    ).fetchall()
    return [str(r[0]) for r in rows]


def test_memories_written_while_the_provider_throttles_every_other_call_are_exactly_the_acknowledged_ones(
    admin: psycopg.Connection[Any], user: User, configure: Configure
) -> None:
    healthy = {"on": False}

    def every_other(request: Request, index: int) -> Reply:
        return json_reply(openai_embeddings(VECTOR)) if healthy["on"] or index % 2 else THROTTLED

    provider = ScriptedServer(every_other)
    configure(EMBEDDINGS_PROVIDER="openai", OPENAI_BASE_URL=provider.url, OPENAI_API_KEY="sk-faults")
    contents = [f"Insight {n:02d}: short hooks convert." for n in range(12)]

    def write(content: str) -> Result:
        return invoke("POST", "/agent/write-memory", headers=user.auth, json_body={"content": content, "memory_type": "insight"})

    try:
        answers = {content: write(content) for content in contents}
        acknowledged = sorted(c for c, r in answers.items() if r.status == 201)
        refused = sorted(c for c, r in answers.items() if r.status != 201)
        assert {r.status for r in answers.values()} == {201, 429}
        assert len(acknowledged) == 6
        assert stored_memories(admin, user) == acknowledged
        assert rate_limit_hits(admin, user.id, "memory_write") == 6
        stored_ids = dict(
            admin.execute("SELECT content, id::text FROM agentmode.agent_memory WHERE user_id = %s", (user.id,)).fetchall()
        )
        assert {c: answers[c].body["memory"]["id"] for c in acknowledged} == {c: stored_ids[c] for c in acknowledged}

        healthy["on"] = True
        assert [write(content).status for content in refused] == [201] * 6
    finally:
        provider.close()
    assert stored_memories(admin, user) == sorted(contents)
    assert rate_limit_hits(admin, user.id, "memory_write") == 12


def test_starts_while_sqs_fails_every_other_run_are_exactly_the_acknowledged_ones(
    admin: psycopg.Connection[Any], user: User, configure: Configure, aws: None
) -> None:
    healthy = {"on": False}

    def odd_runs_fail(request: Request, index: int) -> Reply:
        body = json.loads(request.body)["MessageBody"]
        if not healthy["on"] and int(json.loads(body)["goal"].split()[-1]) % 2:
            return json_reply({"__type": "com.amazonaws.sqs#InternalError", "message": "internal error"}, 500)
        return json_reply({"MD5OfMessageBody": hashlib.md5(body.encode()).hexdigest(), "MessageId": str(index)})  # noqa: S324

    sqs = ScriptedServer(odd_runs_fail)
    configure(AGENT_QUEUE_URL="https://sqs.us-east-1.amazonaws.com/123456789012/agent-queue", AWS_ENDPOINT_URL_SQS=sqs.url)

    def start(n: int) -> Result:
        body = {"goal": f"Generate video ads, run {n}", "constraints": {"max_videos": 2}}
        return invoke("POST", "/agent/start", headers={**user.auth, "Idempotency-Key": f"run-{n}"}, json_body=body)

    try:
        first = {n: start(n) for n in range(6)}
        created = {n: r.body["session_id"] for n, r in first.items() if r.status == 201}
        assert sorted(created) == [0, 2, 4]
        assert {first[n].status for n in (1, 3, 5)} == {503}
        sessions = admin.execute("SELECT idempotency_key, id::text FROM agentmode.agent_sessions WHERE user_id = %s", (user.id,))
        assert dict(sessions.fetchall()) == {f"run-{n}": sid for n, sid in created.items()}
        assert count(admin, "SELECT balance FROM agentmode.credit_balances WHERE user_id = %s", user.id) == 100 - 2 * 3
        assert rate_limit_hits(admin, user.id, "agent_start") == 3

        healthy["on"] = True
        second = {n: start(n) for n in range(6)}
    finally:
        sqs.close()
    assert {n: r.status for n, r in second.items()} == {0: 200, 1: 201, 2: 200, 3: 201, 4: 200, 5: 201}
    assert all(second[n].body["session_id"] == sid for n, sid in created.items())
    assert count(admin, "SELECT count(*) FROM agentmode.agent_sessions WHERE user_id = %s", user.id) == 6
    assert count(admin, "SELECT balance FROM agentmode.credit_balances WHERE user_id = %s", user.id) == 100 - 2 * 6
    assert rate_limit_hits(admin, user.id, "agent_start") == 6


def test_events_cancelled_by_the_statement_timeout_take_no_seq_and_the_acknowledged_ones_have_no_gaps(
    admin: psycopg.Connection[Any], database_url: str, user: User, configure: Configure
) -> None:
    configure(DB_STATEMENT_TIMEOUT_MS="150")
    session = create_session(admin, user.id)

    def send(n: int) -> Result:
        body = {"session_id": str(session), "action_type": "tool_called", "tool_name": f"tool-{n}"}
        return invoke("POST", "/agent/event", headers=user.auth, json_body=body)

    answers: dict[int, Result] = {}
    with psycopg.connect(database_url) as holder:
        for n in range(9):
            if n % 3 == 2:
                holder.execute("SELECT 1 FROM agentmode.agent_sessions WHERE id = %s FOR UPDATE", (session,))
                answers[n] = send(n)
                holder.rollback()
            else:
                answers[n] = send(n)
    acknowledged = [n for n, r in answers.items() if r.status == 200]
    assert acknowledged == [0, 1, 3, 4, 6, 7]
    assert {answers[n].status for n in (2, 5, 8)} == {503}
    assert [answers[n].body["seq"] for n in acknowledged] == list(range(1, 7))
    rows = admin.execute(
        "SELECT seq, tool_name FROM agentmode.agent_execution_logs WHERE session_id = %s ORDER BY seq", (session,)
    ).fetchall()
    assert rows == [(seq, f"tool-{n}") for seq, n in enumerate(acknowledged, start=1)]
    assert count(admin, "SELECT last_seq FROM agentmode.agent_sessions WHERE id = %s", session) == 6
