"""POST /agent/write-memory and GET /agent/read-memory with the real local model and pgvector (seed 001 §4-5, §8)."""

import struct
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

import agentmode.memory as memory_module
from tests.factories import User, create_user
from tests.lambda_invoke import Result, invoke

BRAND = "Brand voice: professional yet approachable. TechFlow automates workflow approvals for operations teams."


def write(user: User, content: str, memory_type: str = "brand_memory", **fields: Any) -> Result:
    query = {"include_embedding": "true"} if fields.pop("include_embedding", False) else None
    body = {"content": content, "memory_type": memory_type, **fields}
    return invoke("POST", "/agent/write-memory", headers=user.auth, json_body=body, query=query)


def read(user: User, query: str, **params: Any) -> Result:
    return invoke("GET", "/agent/read-memory", headers=user.auth, query={"query": query, **params})


def rows_of(admin: psycopg.Connection[Any], user: User) -> list[tuple[Any, ...]]:
    return admin.execute("SELECT memory_type, content FROM agentmode.agent_memory WHERE user_id = %s", (user.id,)).fetchall()


@pytest.fixture
def newcomer(admin: psycopg.Connection[Any]) -> User:
    return create_user(admin, brand_memory=False)


def test_written_memory_is_found_first_by_a_paraphrase(newcomer: User) -> None:
    assert write(newcomer, BRAND).status == 201
    assert write(newcomer, "Quarterly revenue table: Q1 1.2M, Q2 1.4M, Q3 1.1M.", "insight").status == 201
    assert write(newcomer, "Competitor Zapier leads with integrations count.", "competitor").status == 201
    results = read(newcomer, "How should our ads sound? What tone does the brand use?").body["results"]
    assert results[0]["content"] == BRAND
    assert results[0]["similarity"] > results[-1]["similarity"]
    assert set(results[0]) == {"id", "memory_type", "content", "similarity", "metadata", "created_at", "expires_at"}


def test_unrelated_text_ranks_below(newcomer: User) -> None:
    write(newcomer, BRAND)
    write(newcomer, "The office coffee machine is on the third floor.", "insight")
    results = read(newcomer, "brand voice and tone").body["results"]
    assert [r["memory_type"] for r in results] == ["brand_memory", "insight"]


def test_response_has_the_seed_shape_and_no_embedding_unless_asked(newcomer: User) -> None:
    plain = write(newcomer, BRAND, metadata={"brand_name": "TechFlow"}).body["memory"]
    assert (plain["embedding"], plain["metadata"], plain["user_id"]) == (None, {"brand_name": "TechFlow"}, str(newcomer.id))
    with_vector = write(newcomer, "Prefers 9:16 videos.", "preference", include_embedding=True).body["memory"]
    assert len(with_vector["embedding"]) == 1024
    assert with_vector["embedding"][384:] == [0.0] * 640


def test_same_content_twice_updates_one_row(admin: psycopg.Connection[Any], newcomer: User) -> None:
    first = write(newcomer, BRAND, metadata={"v": 1})
    again = write(newcomer, BRAND, metadata={"v": 2})
    assert (first.status, again.status, again.body["deduplicated"]) == (201, 200, True)
    assert again.body["memory"]["id"] == first.body["memory"]["id"]
    assert again.body["memory"]["metadata"] == {"v": 2}
    write(newcomer, BRAND, "insight")
    assert sorted(rows_of(admin, newcomer)) == [("brand_memory", BRAND), ("insight", BRAND)]


def test_memory_type_filters_the_search(newcomer: User) -> None:
    write(newcomer, BRAND)
    write(newcomer, "Competitor Zapier's brand voice is playful.", "competitor")
    results = read(newcomer, "brand voice", memory_type="competitor").body["results"]
    assert [r["memory_type"] for r in results] == ["competitor"]


def test_limit_and_min_similarity_bound_the_results(newcomer: User) -> None:
    for n in range(5):
        write(newcomer, f"Campaign {n} reached {n * 1000} views.", "campaign_result")
    assert len(read(newcomer, "campaign views", limit=3).body["results"]) == 3
    assert read(newcomer, "campaign views", min_similarity=0.99).body["results"] == []


def test_expired_memories_are_never_returned(admin: psycopg.Connection[Any], newcomer: User) -> None:
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    memory_id = write(newcomer, BRAND, expires_at=soon).body["memory"]["id"]
    assert len(read(newcomer, "brand voice").body["results"]) == 1
    admin.execute("UPDATE agentmode.agent_memory SET expires_at = now() - interval '1 second' WHERE id = %s", (memory_id,))
    assert read(newcomer, "brand voice").body["results"] == []


def test_another_users_memories_never_appear(admin: psycopg.Connection[Any], newcomer: User) -> None:
    other = create_user(admin, brand_memory=False)
    secret = "Secret launch plan: Project Falcon ships on March 3."
    write(other, secret, "insight")
    write(newcomer, BRAND)
    for crafted in (secret, "Project Falcon", "' OR 1=1 --", f"{other.id}"):
        contents = [r["content"] for r in read(newcomer, crafted, limit=50).body["results"]]
        assert secret not in contents
    assert [r["content"] for r in read(other, "Falcon").body["results"]] == [secret]


@pytest.mark.parametrize(
    "body",
    [
        {"content": "", "memory_type": "insight"},
        {"content": "   ", "memory_type": "insight"},
        {"content": "x" * 8001, "memory_type": "insight"},
        {"content": "ok", "memory_type": "diary"},
        {"content": "ok"},
        {"content": "ok", "memory_type": "insight", "metadata": {"blob": "x" * 20_000}},
        {"content": "ok", "memory_type": "insight", "metadata": ["not", "an", "object"]},
        {"content": "ok", "memory_type": "insight", "expires_at": "2020-01-01T00:00:00Z"},
        {"content": "ok", "memory_type": "insight", "expires_at": "2099-01-01T00:00:00"},
        {"content": "ok", "memory_type": "insight", "embedding": [0.1]},
    ],
)
def test_invalid_writes_are_400_and_store_nothing(admin: psycopg.Connection[Any], newcomer: User, body: dict[str, Any]) -> None:
    result = invoke("POST", "/agent/write-memory", headers=newcomer.auth, json_body=body)
    assert (result.status, result.body["error_code"]) == (400, "VALIDATION_ERROR")
    assert rows_of(admin, newcomer) == []


@pytest.mark.parametrize("params", [{}, {"query": ""}, {"query": "x", "limit": 0}, {"query": "x", "limit": 51},
                                    {"query": "x", "memory_type": "diary"}, {"query": "x", "min_similarity": 2}])  # fmt: skip
def test_invalid_reads_are_400(newcomer: User, params: dict[str, Any]) -> None:
    result = invoke("GET", "/agent/read-memory", headers=newcomer.auth, query=params)
    assert (result.status, result.body["error_code"]) == (400, "VALIDATION_ERROR")


def test_the_101st_write_in_an_hour_is_429_without_an_embedding_call(
    admin: psycopg.Connection[Any], newcomer: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin.execute(
        "INSERT INTO agentmode.rate_limit_hits (user_id, action, hit_at)"
        " SELECT %s, 'memory_write', now() FROM generate_series(1, 100)",
        (newcomer.id,),
    )
    calls: list[str] = []
    real = memory_module.embedder_for

    def counting(settings: Any) -> Any:
        embedder = real(settings)
        calls.append("embed")
        return embedder

    monkeypatch.setattr(memory_module, "embedder_for", counting)
    result = write(newcomer, BRAND)
    assert (result.status, result.body["error_code"]) == (429, "RATE_LIMIT_EXCEEDED")
    assert result.body["details"]["retry_after_ms"] > 0
    assert (calls, rows_of(admin, newcomer)) == ([], [])


def test_reads_are_limited_to_500_an_hour(admin: psycopg.Connection[Any], newcomer: User) -> None:
    admin.execute(
        "INSERT INTO agentmode.rate_limit_hits (user_id, action, hit_at)"
        " SELECT %s, 'memory_read', now() FROM generate_series(1, 500)",
        (newcomer.id,),
    )
    assert read(newcomer, "anything").body["error_code"] == "RATE_LIMIT_EXCEEDED"


def test_a_written_brand_memory_lets_the_user_start_a_run(newcomer: User) -> None:
    assert (
        invoke("POST", "/agent/start", headers=newcomer.auth, json_body={"goal": "x"}).body["error_code"]
        == "MISSING_BRAND_MEMORY"
    )
    write(newcomer, BRAND)
    assert invoke("POST", "/agent/start", headers=newcomer.auth, json_body={"goal": "x"}).status == 201


def test_search_paths_agree_and_return_k_rows(
    admin: psycopg.Connection[Any], newcomer: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user above MEMORY_EXACT_SCAN_MAX_ROWS goes through HNSW with iterative scans: same top results, k rows."""
    from tests.conftest import reset_function_state

    for n in range(40):
        write(newcomer, f"Observation number {n}: audience segment {n % 7} prefers format {n % 3}.", "insight")
    exact = [r["id"] for r in read(newcomer, "audience segment 3 format", limit=10).body["results"]]
    monkeypatch.setenv("MEMORY_EXACT_SCAN_MAX_ROWS", "5")
    reset_function_state()
    try:
        indexed = [r["id"] for r in read(newcomer, "audience segment 3 format", limit=10).body["results"]]
    finally:
        monkeypatch.undo()
        reset_function_state()
    assert len(indexed) == 10
    assert indexed == exact


def test_a_dimension_mismatch_fails_loudly() -> None:
    from agentmode.embeddings import check_dimension
    from agentmode.settings import Settings

    with pytest.raises(RuntimeError, match="vector\\(384\\)"):
        check_dimension(Settings(embedding_dimension=384))


def test_unknown_ids_in_queries_are_harmless(newcomer: User) -> None:
    assert read(newcomer, str(uuid.uuid4())).status == 200


def test_the_stored_embedding_is_the_providers_vector_in_single_precision(newcomer: User) -> None:
    """The vector travels as a binary real[] (agentmode.memory.vector_parameter): nothing is lost but what pgvector's
    single precision drops anyway."""
    from agentmode.embeddings import embedder_for
    from agentmode.settings import get_settings

    content = "Prefers 9:16 videos with captions."
    expected = embedder_for(get_settings()).embed(content)

    stored = write(newcomer, content, "preference", include_embedding=True).body["memory"]["embedding"]

    assert stored == [struct.unpack("f", struct.pack("f", value))[0] for value in expected]


def test_a_memorys_own_text_finds_it_at_similarity_one(newcomer: User) -> None:
    write(newcomer, BRAND)

    [hit] = read(newcomer, BRAND).body["results"]

    assert hit["similarity"] == pytest.approx(1.0, abs=1e-6)
