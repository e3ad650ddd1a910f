"""Test data for the traces function: projects in Postgres, spans in ClickHouse as the OTel exporter writes them."""

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from agentmode.clickhouse import ClickHouse

NOW = datetime.now(UTC).replace(microsecond=0)


def create_project(admin: psycopg.Connection[Any], user_id: uuid.UUID, *, plan: str = "pro") -> uuid.UUID:
    """A project in a new organization the user belongs to, on `plan`."""
    org_id = admin.execute(
        "INSERT INTO agentmode.orgs (name, prem_status) VALUES ('traces org', %s) RETURNING id", (plan,)
    ).fetchone()[0]
    admin.execute("INSERT INTO agentmode.user_orgs (user_id, org_id, role) VALUES (%s, %s, 'developer')", (user_id, org_id))
    project_id: uuid.UUID = admin.execute(
        "INSERT INTO agentmode.projects (org_id, name) VALUES (%s, 'traced') RETURNING id", (org_id,)
    ).fetchone()[0]
    return project_id


def new_trace_id() -> str:
    return uuid.uuid4().hex


def new_span_id() -> str:
    return uuid.uuid4().hex[:16]


@dataclass
class Span:
    """One exporter row; times relative to `start`, which defaults to an hour ago."""

    trace_id: str
    name: str = "agent.run"
    span_id: str = field(default_factory=new_span_id)
    parent_span_id: str = ""
    start: datetime = field(default_factory=lambda: NOW - timedelta(hours=1))
    duration: timedelta = timedelta(seconds=1)
    status_code: str = "Unset"
    status_message: str = ""
    kind: str = "Internal"
    service: str = "agents"
    attributes: dict[str, str] = field(default_factory=dict)
    events: list[tuple[datetime, str, dict[str, str]]] = field(default_factory=list)

    def row(self, project_id: uuid.UUID) -> dict[str, Any]:
        return {
            "Timestamp": self.start.strftime("%Y-%m-%d %H:%M:%S.%f"),
            "TraceId": self.trace_id,
            "SpanId": self.span_id,
            "ParentSpanId": self.parent_span_id,
            "TraceState": "",
            "SpanName": self.name,
            "SpanKind": self.kind,
            "ServiceName": self.service,
            "ResourceAttributes": {"agentops.project.id": str(project_id), "service.name": self.service},
            "ScopeName": "agentops",
            "ScopeVersion": "0.4",
            "SpanAttributes": self.attributes,
            "Duration": int(self.duration.total_seconds() * 1_000_000_000),
            "StatusCode": self.status_code,
            "StatusMessage": self.status_message,
            "Events.Timestamp": [e[0].strftime("%Y-%m-%d %H:%M:%S.%f") for e in self.events],
            "Events.Name": [e[1] for e in self.events],
            "Events.Attributes": [e[2] for e in self.events],
            "Links.TraceId": [],
            "Links.SpanId": [],
            "Links.TraceState": [],
            "Links.Attributes": [],
        }


def insert_spans(ch: ClickHouse, project_id: uuid.UUID, spans: list[Span]) -> None:
    ch.insert("otel_traces", [span.row(project_id) for span in spans])


def llm_attributes(model: str, prompt: int, completion: int, **extra: str) -> dict[str, str]:
    return {
        "gen_ai.request.model": model,
        "gen_ai.usage.prompt_tokens": str(prompt),
        "gen_ai.usage.completion_tokens": str(completion),
        **extra,
    }


def simple_trace(
    ch: ClickHouse,
    project_id: uuid.UUID,
    *,
    start: datetime | None = None,
    name: str = "agent.run",
    children: int = 2,
    errors: int = 0,
    tags: str | None = None,
    duration: timedelta = timedelta(seconds=10),
) -> str:
    """A root with `children` LLM spans (gpt-4o-mini, 100 + 50 tokens each), the first `errors` of them failed."""
    trace_id = new_trace_id()
    start = start or NOW - timedelta(hours=1)
    root = Span(trace_id, name, start=start, duration=duration, attributes={"agentops.tags": tags} if tags else {})
    spans = [root] + [
        Span(
            trace_id,
            "openai.chat.completion",
            parent_span_id=root.span_id,
            start=start + timedelta(seconds=1 + i),
            status_code="Error" if i < errors else "Unset",
            attributes=llm_attributes("gpt-4o-mini", 100, 50),
        )
        for i in range(children)
    ]
    insert_spans(ch, project_id, spans)
    return trace_id
