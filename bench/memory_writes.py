"""The embedding call and the write path of bench.memory: the local model alone, and writes through memory_write.

Imported by bench.memory, which first puts the layer and memory_read on the import path (as Lambda does).
"""

import contextlib
import json
import time
import uuid
from typing import Any, TextIO

import numpy as np
import psycopg

from agentmode.embeddings import Embedder
from bench.errors import BenchError
from bench.memory_config import API_WRITE_USERS, API_WRITES_PER_USER, JWT_SECRET, WARMUP, WRITE_FUNCTION_DIR
from bench.memory_data import (
    MEMORY_TYPES,
)
from bench.memory_load import add_auth_users
from bench.memory_search import latency_summary
from local.apigw_event import build_event
from local.lambda_runtime import Handler, LambdaContext, load_handler
from local.token import mint_token

QUERY_TEXTS = (
    "What tone should our {channel} ads use for {audience}?",
    "Which hooks worked best for {audience} on {channel}?",
    "How did the {campaign} campaign perform on {channel}?",
    "What do we know about {competitor}'s pricing for {audience}?",
    "Preferred video length on {channel} for the {campaign}",
    "brand colors and logo rules for the {campaign} on {channel}",
    "Did {audience} respond better to testimonials or demos in the {campaign}?",
    "what did {competitor} post on {channel} last quarter",
    "Is {competitor} also targeting {audience}?",
    "best time to post on {channel} for {audience}",
)
MEMORY_TEXTS = (
    "The {campaign} campaign on {channel} reached {n} views; the pain-point hook beat the feature hook by {p} %.",
    "{audience} prefer short captions and a clear call to action in the first {n} seconds.",
    "{competitor} cut its entry price to ${n} a month and now leads with integrations (note #{p}).",
    "Brand voice for {channel}: professional yet approachable, no slang, one emoji at most (rule {n}.{p}).",
)

FILLS = {
    "channel": ("TikTok", "Instagram Reels", "YouTube Shorts", "LinkedIn", "Facebook"),
    "audience": ("operations managers", "finance teams", "IT admins", "startup founders", "HR leads"),
    "campaign": ("spring launch", "Q3 webinar", "holiday promo", "free trial push", "case study series"),
    "competitor": ("Zapier", "Monday.com", "Asana", "Airtable", "Notion"),
}


def texts(rng: np.random.Generator, templates: tuple[str, ...], count: int) -> list[str]:
    """Realistic short texts (5-25 words), all different."""
    made: dict[str, None] = {}
    for _ in range(100 * count):
        fills = {name: str(rng.choice(values)) for name, values in FILLS.items()}
        made[str(rng.choice(templates)).format(**fills, n=int(rng.integers(2, 90_000)), p=int(rng.integers(2, 99)))] = None
        if len(made) == count:
            return list(made)
    raise BenchError(f"the templates make fewer than {count} different texts")


def time_embedding(embedder: Embedder, queries: list[str]) -> dict[str, Any]:
    """The local model alone, warm (its first call loads it); production's Bedrock call is network-bound instead."""
    loading = time.perf_counter()
    embedder.embed("warm-up")
    load_seconds = time.perf_counter() - loading
    for text in queries[:WARMUP]:
        embedder.embed(text)
    latencies = []
    for text in queries:
        started = time.perf_counter_ns()
        embedder.embed(text)
        latencies.append((time.perf_counter_ns() - started) / 1e6)
    return {
        "provider": f"{embedder.name} (all-MiniLM-L6-v2 on CPU, padded to {embedder.dimension})",
        "calls": len(queries),
        "first_call_s": round(load_seconds, 1),
        **latency_summary(latencies),
    }


def timing_embeds(embedder: Embedder, log: list[float]) -> None:
    """Wraps the container's embedder so each write's embedding time is recorded apart from the rest of the request."""
    inner = embedder.embed

    def embed(text: str) -> list[float]:
        started = time.perf_counter_ns()
        try:
            return inner(text)
        finally:
            log.append((time.perf_counter_ns() - started) / 1e6)

    setattr(embedder, "embed", embed)  # noqa: B010 - an instance attribute shadowing the method, as a patch


def write_event(token: str, content: str, memory_type: str) -> dict[str, Any]:
    body = json.dumps({"content": content, "memory_type": memory_type}).encode()
    headers = [("content-type", "application/json"), ("authorization", f"Bearer {token}")]
    return build_event(
        method="POST",
        path="/agent/write-memory",
        raw_query="",
        headers=headers,
        body=body,
        route_key="POST /agent/write-memory",
        path_parameters={},
    )


def api_writes(admin: psycopg.Connection[Any], rng: np.random.Generator, embedder: Embedder, log: TextIO) -> dict[str, Any]:
    """Single writes through memory_write's handler (JWT, quota, embedding, upsert, HNSW insert), one at a time, as
    a warm container serves them, into the 200k-row table; a few untimed ones first, by another user."""
    users = [
        uuid.UUID(int=int(rng.integers(1 << 62)) << 64 | int(rng.integers(1 << 62)), version=4)
        for _ in range(API_WRITE_USERS + 1)
    ]
    add_auth_users(admin, users)
    with contextlib.redirect_stdout(log):
        handler = load_handler(WRITE_FUNCTION_DIR)
    embed_ms: list[float] = []
    timing_embeds(embedder, embed_ms)
    warm_token = mint_token(users[0], JWT_SECRET)
    for content in texts(rng, MEMORY_TEXTS, WARMUP):
        call_handler(handler, write_event(warm_token, content, "insight"), log)
    embed_ms.clear()
    latencies: list[float] = []
    started = time.perf_counter()
    for user in users[1:]:
        token = mint_token(user, JWT_SECRET)
        for content in texts(rng, MEMORY_TEXTS, API_WRITES_PER_USER):
            latencies.append(call_handler(handler, write_event(token, content, str(rng.choice(MEMORY_TYPES))), log))
    seconds = time.perf_counter() - started
    rest = [total - embedding for total, embedding in zip(latencies, embed_ms, strict=True)]
    return {
        "writes": len(latencies),
        "seconds": round(seconds, 2),
        "rows_per_s": round(len(latencies) / seconds, 1),
        "request": latency_summary(latencies),
        "embedding": latency_summary(embed_ms),
        "request_minus_embedding": latency_summary(rest),
    }


def call_handler(handler: Handler, event: dict[str, Any], log: TextIO) -> float:
    """One request; anything but 201 is a functional error."""
    started = time.perf_counter_ns()
    with contextlib.redirect_stdout(log):
        response = handler(event, LambdaContext(function_name="MemoryWriteFunction"))
    elapsed_ms = (time.perf_counter_ns() - started) / 1e6
    if response.get("statusCode") != 201:
        raise BenchError(f"write answered {response.get('statusCode')}: {str(response.get('body'))[:300]}")
    return elapsed_ms
