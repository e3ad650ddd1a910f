"""Realistic agent traces generated inside ClickHouse: the demo seed (`make run`) and the benchmark's 10M spans.

One trace per agent run: a root span, agent steps under it, and under each step LLM calls (gen_ai.* attributes, token
counts in both namings, some with cache reads, reasoning or an SDK-reported cost) and tool calls; about 3% of leaf spans
fail with an exception event. Half the traces use the exporter's older status and kind spellings. Everything derives
from (seed, trace number, span number), so a run is reproducible and generation never leaves ClickHouse.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the layer is on the path only where the functions run
    from agentmode.clickhouse import ClickHouse


SPAN_STEP_NS = 150_000_000
ROOT_TAIL_NS = 5_000_000_000

GENERATE_SQL = """
INSERT INTO otel_traces (Timestamp, TraceId, SpanId, ParentSpanId, TraceState, SpanName, SpanKind, ServiceName,
    ResourceAttributes, ScopeName, ScopeVersion, SpanAttributes, Duration, StatusCode, StatusMessage,
    `Events.Timestamp`, `Events.Name`, `Events.Attributes`,
    `Links.TraceId`, `Links.SpanId`, `Links.TraceState`, `Links.Attributes`)
SELECT
    fromUnixTimestamp64Nano(start_ns, 'UTC') AS Timestamp,
    trace_id,
    substring(lower(hex(MD5(concat(trace_key, '/', toString(i))))), 1, 16) AS span_id,
    multiIf(i = 0, '', role = 'step', substring(lower(hex(MD5(concat(trace_key, '/0')))), 1, 16),
            substring(lower(hex(MD5(concat(trace_key, '/', toString(step_index))))), 1, 16)),
    '',
    multiIf(i = 0, root_name, role = 'step', step_name, role = 'llm', if(startsWith(model_name, 'claude'),
            'anthropic.messages.create', 'openai.chat.completion'), tool_name),
    if(role IN ('llm', 'tool'), if(old_spelling, 'SPAN_KIND_CLIENT', 'Client'),
       if(old_spelling, 'SPAN_KIND_INTERNAL', 'Internal')),
    {service:String},
    map('agentops.project.id', {project_id:String}, 'service.name', {service:String}, 'telemetry.sdk.name', 'agentops'),
    'agentops',
    '0.4.21',
    multiIf(
        i = 0, map('agentops.span.kind', 'session', 'agentops.tags', tags_json),
        role = 'step', map('agentops.span.kind', 'agent', 'agent.name', step_name),
        role = 'llm', if(old_spelling,
            map('agentops.span.kind', 'llm', 'gen_ai.system', gen_ai_system,
                'gen_ai.request.model', model_name, 'gen_ai.response.model', model_name,
                'gen_ai.usage.prompt_tokens', toString(prompt), 'gen_ai.usage.completion_tokens', toString(completion),
                'gen_ai.usage.cache_read_input_tokens', toString(cache_read),
                'gen_ai.usage.total_cost', if(h % 5 = 0, toString(round((prompt + completion) * 0.000004, 6)), '')),
            map('agentops.span.kind', 'llm', 'gen_ai.system', gen_ai_system,
                'gen_ai.request.model', model_name,
                'gen_ai.usage.input_tokens', toString(prompt), 'gen_ai.usage.output_tokens', toString(completion),
                'gen_ai.usage.cache_read.input_tokens', toString(cache_read),
                'gen_ai.usage.reasoning_tokens', toString(reasoning))),
        map('agentops.span.kind', 'tool', 'tool.name', tool_name)),
    toUInt64(multiIf(i = 0, span_count * pace_ns + {root_tail_ns:Int64} + h % 60000000000,
                     role = 'step', 10 * pace_ns, role = 'llm', 400000000 + h % 2600000000, 30000000 + h % 470000000)),
    if(failed, if(old_spelling, 'STATUS_CODE_ERROR', 'Error'), if(old_spelling, 'STATUS_CODE_UNSET', 'Unset')),
    if(failed, if(role = 'llm', 'RateLimitError: 429 Too Many Requests', 'TimeoutError: tool call exceeded 30s'), ''),
    if(failed, [fromUnixTimestamp64Nano(start_ns + 1000000, 'UTC')], []),
    if(failed, ['exception'], []),
    if(failed, [map('exception.type', if(role = 'llm', 'RateLimitError', 'TimeoutError'))], []),
    [], [], [], []
FROM
(
    SELECT
        intDiv(number, {slice_width:UInt32}) + {first_trace:UInt64} AS t,
        number % {slice_width:UInt32} + {span_from:UInt32} AS i,
        {spans_per_trace:UInt32} AS span_count,
        concat(toString({seed:UInt64}), '/', {project_id:String}, '/', toString(t)) AS trace_key,
        lower(hex(MD5(trace_key))) AS trace_id,
        cityHash64(trace_key, i) AS h,
        cityHash64(trace_key) AS th,
        th % 2 = 1 AS old_spelling,
        intDiv(i - 1, 10) * 10 + 1 AS step_index,
        multiIf(i = 0, 'root', (i - 1) % 10 = 0, 'step', (i - 1) % 10 < 7, 'llm', 'tool') AS role,
        ['video_ad.generate', 'research.competitors', 'copy.write', 'campaign.plan'][th % 4 + 1] AS root_name,
        ['agent.researcher', 'agent.writer', 'agent.video_producer'][cityHash64(trace_key, step_index) % 3 + 1] AS step_name,
        ['tool.web_search', 'tool.scrape_page', 'tool.render_video'][h % 3 + 1] AS tool_name,
        ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet-4-5', 'gemini-2.5-flash', 'o4-mini'][h % 5 + 1] AS model_name,
        multiIf(startsWith(model_name, 'claude'), 'anthropic', startsWith(model_name, 'gemini'), 'gcp.gemini', 'openai')
            AS gen_ai_system,
        200 + h % 3800 AS prompt,
        50 + intDiv(h, 7) % 1450 AS completion,
        if(h % 3 = 0, intDiv(prompt, 2), 0) AS cache_read,
        if(model_name = 'o4-mini', intDiv(completion, 3), 0) AS reasoning,
        ['["production","video"]', '["staging"]', '["production","research"]', '[]'][th % 4 + 1] AS tags_json,
        role IN ('llm', 'tool') AND h % 100 < 3 AS failed,
        -- Agent runs differ in pace: spans 1 to 4 steps apart, and the root lasts up to a minute past its last child.
        {step_ns:Int64} * (1 + th % 4) AS pace_ns,
        {start_ns:Int64} + toInt64(th % toUInt64({range_ns:Int64})) + i * pace_ns + toInt64(h % 100000000) AS start_ns
    FROM numbers({span_total:UInt64})
)
"""


def trace_id_of(batch_seed: int, project_id: str, number: int) -> str:
    """The id GENERATE_SQL gives trace `number` of a project (its `trace_key`, hashed)."""
    return hashlib.md5(f"{batch_seed}/{project_id}/{number}".encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class TraceBatch:
    project_id: str
    traces: int
    spans_per_trace: int
    start: datetime
    end: datetime
    seed: int = 1
    first_trace: int = 0
    # Write only spans [span_from, span_to) of each trace: exporters send a trace's spans in several batches.
    span_from: int = 0
    span_to: int | None = None
    service: str = "agentmode-agents"


def generate(ch: "ClickHouse", batch: TraceBatch) -> None:
    """Writes `batch.traces` traces starting uniformly in [start, end), each with `spans_per_trace` spans."""
    start_ns = int(batch.start.timestamp() * 1e9)
    span_to = batch.spans_per_trace if batch.span_to is None else batch.span_to
    width = span_to - batch.span_from
    ch.command(
        GENERATE_SQL,
        {
            "project_id": batch.project_id,
            "service": batch.service,
            "seed": batch.seed,
            "first_trace": batch.first_trace,
            "spans_per_trace": batch.spans_per_trace,
            "span_from": batch.span_from,
            "slice_width": width,
            "span_total": batch.traces * width,
            "start_ns": start_ns,
            "range_ns": max(1, int(batch.end.timestamp() * 1e9) - start_ns),
            "step_ns": SPAN_STEP_NS,
            "root_tail_ns": ROOT_TAIL_NS,
        },
    )
