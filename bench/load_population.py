"""bench.load's configuration (route kinds, mix, API limits, LoadConfig) and the population of users it creates."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import psycopg

from local.token import mint_token
from local.trace_generator import TraceBatch, generate, trace_id_of
from tests.factories import create_user

if TYPE_CHECKING:  # the layer is on the path only where the functions run
    from agentmode.clickhouse import ClickHouse

# Route kinds, their labels (template.yaml's route keys) and their default shares of the requests.
START, EVENT, STATUS, EVENTS = "start", "event", "status", "events"
WRITE_MEMORY, READ_MEMORY = "write_memory", "read_memory"
TRACES, TRACE, METRICS = "traces_list", "trace_detail", "metrics"
ROUTES = {
    START: "POST /agent/start",
    EVENT: "POST /agent/event",
    STATUS: "GET /agent/status",
    EVENTS: "GET /agent/events",
    WRITE_MEMORY: "POST /agent/write-memory",
    READ_MEMORY: "GET /agent/read-memory",
    TRACES: "GET /v4/traces",
    TRACE: "GET /v4/traces/{trace_id}",
    METRICS: "GET /v4/meterics/project",
}
# Memory requests embed with a real model (CPU per call), so they get a modest share.
DEFAULT_MIX = {START: 8, EVENT: 38, STATUS: 12, EVENTS: 8, WRITE_MEMORY: 4, READ_MEMORY: 4, TRACES: 10, TRACE: 10, METRICS: 6}

# The API's own limits: a pro user's daily runs, memory writes and reads per hour (README, "Behaviour worth knowing").
PRO_DAILY_RUNS, MEMORY_WRITES_PER_HOUR, MEMORY_READS_PER_HOUR = 50, 100, 500
CREDITS_PER_VIDEO = 1
STEP_NAMES = (
    "Analyze brand memory",
    "Research competitors",
    "Analyze trends",
    "Generate concepts",
    "Generate scripts",
    "Generate videos",
    "Update memory",
    "Deliver results",
)
MEMORY_TYPES = ("preference", "insight", "competitor", "campaign_result")
PHRASES = (
    "hooks under three seconds keep viewers watching",
    "testimonials from operations managers convert best",
    "the competitor leads with price, we lead with time saved",
    "vertical video outperforms square on mobile placements",
    "calm narration beats loud music for B2B audiences",
    "case studies with numbers get more clicks than feature lists",
)
ORDER_BY = ("start_time", "duration", "span_count", "error_count", "total_cost", "total_tokens")
BRAND_MEMORY_TEXT = "Brand voice: calm and clear."  # what tests.factories.add_memory stores


@dataclass(frozen=True)
class LoadConfig:
    clients: int = 50
    requests: int = 3000
    users: int = 50
    traces_per_project: int = 4
    spans_per_trace: int = 31
    credits: int = 10_000
    seed: int = 20261125
    timeout_seconds: float = 30.0
    mix: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_MIX))


@dataclass(frozen=True)
class LoadUser:
    index: int
    id: uuid.UUID
    token: str
    project_id: uuid.UUID
    trace_ids: tuple[str, ...]


@dataclass(frozen=True)
class Population:
    users: tuple[LoadUser, ...]
    credits: int
    traces_per_project: int
    spans_per_trace: int
    brand_memory_embedded: bool

    @property
    def user_ids(self) -> list[uuid.UUID]:
        return [user.id for user in self.users]


def create_population(
    admin: psycopg.Connection[Any],
    ch: "ClickHouse",
    config: LoadConfig,
    jwt_secret: str,
    embed: Callable[[str], list[float]] | None = None,
) -> Population:
    """Users with brand memory (embedded with `embed`, so reads find it), `credits`, a pro organization (50 runs a day)
    and a project of their own with a few generated traces in ClickHouse from the last two days."""
    now = datetime.now(UTC)
    users = []
    with admin.transaction():
        for index in range(config.users):
            created = create_user(admin, plan="pro", credits=config.credits)
            row = admin.execute(
                "INSERT INTO agentmode.projects (org_id, name) SELECT org_id, 'load test' FROM agentmode.user_orgs"
                " WHERE user_id = %s RETURNING id",
                (created.id,),
            ).fetchone()
            assert row is not None
            project_id: uuid.UUID = row[0]
            traces = tuple(trace_id_of(1, str(project_id), n) for n in range(config.traces_per_project))
            users.append(LoadUser(index, created.id, mint_token(created.id, jwt_secret), project_id, traces))
        if embed is not None:
            admin.execute(
                "UPDATE agentmode.agent_memory SET embedding = %s::vector WHERE user_id = ANY(%s) AND embedding IS NULL",
                (str(embed(BRAND_MEMORY_TEXT)), [user.id for user in users]),
            )
    for user in users:
        batch = TraceBatch(str(user.project_id), config.traces_per_project, config.spans_per_trace, now - timedelta(days=2),
                           now - timedelta(minutes=1))  # fmt: skip
        generate(ch, batch)
    return Population(tuple(users), config.credits, config.traces_per_project, config.spans_per_trace, embed is not None)
