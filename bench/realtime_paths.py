"""What an event's broadcast costs the request that logs it, two ways, in the same run, interleaved (issue #14):

    database_send   the deployed design: the event's transaction (agentmode.lock_session, append_session_event) also
                    calls realtime.send(payload, event, topic, private), so the message leaves (Realtime reads the WAL)
                    only if the event commits, in commit order
    rest_outbox     the design before it: the same event transaction, then a second one that takes the session's
                    advisory lock, reads the unpublished rows, POSTs them to Realtime's REST broadcast endpoint (a
                    loopback stand-in answering 202 at once) and marks them published (the outbox column is restored
                    in this run's throwaway database). It still contains the realtime.send of the deployed function,
                    so it overstates the old design by `send_alone`
    send_alone      one realtime.send in a transaction of its own
    floor           a transaction that only locks the session

Each variant works on its own session as the authenticated user, on the embedded Postgres with the local stand-in of
Supabase's `realtime` schema. On Supabase the REST call crosses the network (tens of ms from Lambda), which this
loopback leaves out: rest_outbox's figure is a floor of its real cost.

`python -m bench.realtime_paths [--rounds 5] [--requests 60] [--publish]`; results: realtime_paths.json.
"""

import argparse
import atexit
import json
import shutil
import sys
import tempfile
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from bench.in_process import interleaved_rounds, percentiles_over_floor
from bench.loopback import realtime_recorder
from bench.machine import machine_info
from bench.results_dir import add_publish_flag, results_dir, shown, write_results
from local.stack import apply_migrations, start_postgres

RESULTS_FILE = "realtime_paths.json"
STATE = {"status": "researching_competitors", "current_step": "Research competitors", "current_step_index": 2,
         "progress_percentage": 12, "completed_steps": ["Analyze brand memory"], "error_message": None, "result": None,
         "completed_at": None}  # fmt: skip


class Session:
    """One user's session and the connection that logs its events as that user."""

    def __init__(self, admin: psycopg.Connection[Any], url: str) -> None:
        self.user_id = uuid.uuid4()
        admin.execute("INSERT INTO auth.users (id, email) VALUES (%s, %s)", (self.user_id, f"{self.user_id}@bench.local"))
        row = admin.execute("INSERT INTO agentmode.agent_sessions (user_id) VALUES (%s) RETURNING id", (self.user_id,)).fetchone()
        assert row is not None
        self.id = row[0]
        self.conn = psycopg.connect(url, autocommit=True, row_factory=dict_row, prepare_threshold=None)
        self.claims = json.dumps({"sub": str(self.user_id), "role": "authenticated"})

    def as_user(self) -> None:
        self.conn.execute("SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', %s, true)",
                          (self.claims,))  # fmt: skip

    def append(self) -> dict[str, Any]:
        """The event's transaction body (the caller holds the transaction): lock, next seq, append."""
        self.as_user()
        session = self.conn.execute("SELECT * FROM agentmode.lock_session(%s)", (self.id,)).fetchone()
        assert session is not None
        seq, log_id, now = session["last_seq"] + 1, uuid.uuid4(), datetime.now(UTC)
        payload = {"event": "reasoning_update", "session_id": str(self.id), "seq": seq, "log_id": str(log_id),
                   "reasoning": "Comparing hooks across the competitors' ads.", "timestamp": now.isoformat()}  # fmt: skip
        self.conn.execute(
            "SELECT agentmode.append_session_event(%s, %s, %s, %s, %s, %s, %s)",
            (self.id, seq, log_id, Jsonb({"action_type": "reasoning_update"}), Jsonb(payload), Jsonb(STATE), now),
        )
        return payload


def floor(session: Session) -> Callable[[], None]:
    def call() -> None:
        with session.conn.transaction():
            session.as_user()
            session.conn.execute("SELECT id FROM agentmode.lock_session(%s)", (session.id,)).fetchone()

    return call


def database_send(session: Session) -> Callable[[], None]:
    def call() -> None:
        with session.conn.transaction():
            session.append()

    return call


def send_alone(session: Session) -> Callable[[], None]:
    payload = {"event": "reasoning_update", "session_id": str(session.id), "seq": 0, "reasoning": "bench"}

    def call() -> None:
        with session.conn.transaction():
            session.conn.execute("SELECT realtime.send(%s, %s, %s, true)",
                                 (Jsonb(payload), payload["event"], f"agent-session:{session.id}"))  # fmt: skip

    return call


def rest_outbox(session: Session, broadcast_url: str) -> Callable[[], None]:
    """The former agentmode.outbox.publish_pending and agentmode.realtime.SupabaseBroadcaster, step for step."""

    def call() -> None:
        with session.conn.transaction():
            session.append()
        with session.conn.transaction():
            session.as_user()
            session.conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('agentmode.outbox:' || %s::text, 0))",
                                 (session.id,))  # fmt: skip
            rows = session.conn.execute(
                "SELECT id, seq, action_type, event_payload FROM agentmode.agent_execution_logs"
                " WHERE session_id = %s AND published_at IS NULL ORDER BY seq LIMIT 100",
                (session.id,),
            ).fetchall()
            messages = [{"topic": f"agent-session:{session.id}", "event": r["action_type"], "payload": r["event_payload"],
                         "private": True} for r in rows]  # fmt: skip
            request = urllib.request.Request(  # noqa: S310 - loopback
                broadcast_url, data=json.dumps({"messages": messages}).encode(), method="POST",
                headers={"apikey": "bench", "Authorization": "Bearer bench", "Content-Type": "application/json"},
            )  # fmt: skip
            with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310 - loopback
                assert response.status == 202
            session.conn.execute("UPDATE agentmode.agent_execution_logs SET published_at = now() WHERE id = ANY(%s)",
                                 ([r["id"] for r in rows],))  # fmt: skip

    return call


def restore_outbox(admin: psycopg.Connection[Any]) -> None:
    """The outbox column and index as they were before migration 20261203000100, in this throwaway database only."""
    admin.execute("ALTER TABLE agentmode.agent_execution_logs ADD COLUMN published_at timestamptz")
    admin.execute("CREATE INDEX ON agentmode.agent_execution_logs (session_id, seq) WHERE published_at IS NULL")
    admin.execute("GRANT UPDATE (published_at) ON agentmode.agent_execution_logs TO authenticated")
    admin.execute("CREATE POLICY bench_outbox ON agentmode.agent_execution_logs FOR UPDATE TO authenticated"
                  " USING (user_id = (SELECT auth.uid()))")  # fmt: skip


def measure(rounds: int, requests: int) -> dict[str, Any]:
    work_dir = Path(tempfile.mkdtemp(prefix="agentmode-bench-realtime-"))
    atexit.register(shutil.rmtree, work_dir, ignore_errors=True)
    url = start_postgres(work_dir / "pg")
    apply_migrations(url)
    with psycopg.connect(url, autocommit=True) as admin, realtime_recorder() as recorder:
        restore_outbox(admin)
        sessions = {name: Session(admin, url) for name in ("floor", "rest_outbox", "database_send", "send_alone")}
        variants = {
            "floor": floor(sessions["floor"]),
            "database_send": database_send(sessions["database_send"]),
            "send_alone": send_alone(sessions["send_alone"]),
            "rest_outbox": rest_outbox(sessions["rest_outbox"], f"{recorder.url}/realtime/v1/api/broadcast"),
        }
        samples = interleaved_rounds(variants, rounds, requests)
        sent = admin.execute("SELECT count(*) FROM realtime.messages WHERE topic = %s",
                             (f"agent-session:{sessions['database_send'].id}",)).fetchone()  # fmt: skip
        broadcast = len(recorder.messages)
    expected = 1 + rounds * requests
    if sent != (expected,) or broadcast != expected:
        raise SystemExit(f"expected {expected} messages each way, got {sent} in realtime.messages and {broadcast} posted")
    return {
        "machine": machine_info(),
        "method": {"rounds": rounds, "requests_per_round": requests, "variants": (__doc__ or "").split("\n\n")[1]},
        "messages_each_way": expected,
        "figures": percentiles_over_floor(samples),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.realtime_paths", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=60)
    add_publish_flag(parser)
    args = parser.parse_args(argv)
    results = measure(args.rounds, args.requests)
    path = results_dir(args.publish) / RESULTS_FILE
    write_results(results, path)
    for name, figures in results["figures"].items():
        print(f"{name:14} p50 {figures['p50_ms']:7.3f} ms  p99 {figures['p99_ms']:7.3f} ms  x floor {figures['p50_over_floor']}")
    print(f"\nwrote {shown(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
