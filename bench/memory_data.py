"""bench.memory's synthetic corpus: 1,024-dim clustered vectors that behave like text embeddings, and who owns them.

Kept apart from the measuring so the data can be read (and changed) on its own; every id is chosen here, so any
search answer can be checked against the vectors.
"""

import uuid
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

SEED = 20261125
DIMENSION = 1024  # the production default: EMBEDDING_DIMENSION and the migration's vector(1024) (checked by bench.memory)
TOPICS, DOMAINS = 128, 16  # 8 topics to a domain (say, video ads / pricing / hiring ...)
TOPIC_OFFSET = 1.0  # a topic centroid is its domain's + this much of its own direction: siblings share cos ~0.5
SHARED = 0.5  # a direction every vector shares (text embeddings are anisotropic): unrelated vectors have cos ~0.1
TOPIC_RANK = 16  # each topic spreads along its own 16 directions: the low intrinsic dimension real embeddings show
TOPIC_SPREAD = 1.0  # length of that spread relative to the topic centroid
NOISE = 0.3  # isotropic noise over all 1,024 dimensions (about 8 % of a vector's energy)
SMALL_USERS, SMALL_USER_ROWS, SMALL_USER_TOPICS = 100, 1_000, 8
POWER_USER_ROWS, POWER_USER_TOPICS = 100_000, 40
MEMORY_TYPES = ("brand_memory", "preference", "insight", "competitor", "campaign_result")
TYPE_WEIGHTS = (0.05, 0.15, 0.45, 0.15, 0.20)
ONE_TYPE = "brand_memory"  # 5 %: the power user's 5,000 of them are a mid-sized user as far as the index can tell

VECTORS = (
    f"{DIMENSION} dims, all informative (the local MiniLM model fills 384 and pads with zeros; Titan V2 fills all 1,024,"
    f" and full-width vectors are the harsher case: 4 KB each, kept in the row by the migration). {TOPICS} topics in"
    f" {DOMAINS} domains (topic centroid = domain direction + {TOPIC_OFFSET} x its own, normalized); a topic's vectors are"
    f" centroid + a Gaussian in a {TOPIC_RANK}-dimensional subspace of its own (norm ~{TOPIC_SPREAD}) + isotropic"
    f" Gaussian noise (norm ~{NOISE}) + {SHARED} x a direction all vectors share, normalized. A small user mixes"
    f" {SMALL_USER_TOPICS} topics, the power user {POWER_USER_TOPICS} (Dirichlet weights). Queries are drawn the same"
    " way from the asking user's own topic mix: near some of that user's rows, never copies of them."
)
FLAT_TOPICS = (
    "--flat-topics: the topic centroids are independent random directions (no domains, no shared direction), so every"
    " topic is orthogonal to every other: the harshest case for HNSW's greedy navigation"
)

Vectors = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Topics:
    centroids: Vectors  # (TOPICS, DIMENSION), unit rows
    bases: Vectors  # (TOPICS, TOPIC_RANK, DIMENSION), unit rows
    shared: Vectors  # (DIMENSION,): zero for flat topics


def unit_rows(matrix: Vectors) -> Vectors:
    normalized: Vectors = (matrix / np.linalg.norm(matrix, axis=-1, keepdims=True)).astype(np.float32)
    return normalized


def make_topics(rng: np.random.Generator, flat: bool) -> Topics:
    """Topics related as real ones are: siblings within a domain, and one direction all text shares. Independent random
    centroids instead (`flat`) leave no path between topics for a graph search to follow."""
    own = unit_rows(rng.standard_normal((TOPICS, DIMENSION), dtype=np.float32))
    bases = unit_rows(rng.standard_normal((TOPICS, TOPIC_RANK, DIMENSION), dtype=np.float32))
    if flat:
        return Topics(own, bases, np.zeros(DIMENSION, dtype=np.float32))
    domains = np.repeat(unit_rows(rng.standard_normal((DOMAINS, DIMENSION), dtype=np.float32)), TOPICS // DOMAINS, axis=0)
    shared = unit_rows(rng.standard_normal((1, DIMENSION), dtype=np.float32))[0] * SHARED
    return Topics(unit_rows(domains + TOPIC_OFFSET * own), bases, shared)


def topic_mix(rng: np.random.Generator, count: int) -> npt.NDArray[np.float64]:
    """A user writes about a few topics, some much more than others."""
    weights = np.zeros(TOPICS)
    weights[rng.choice(TOPICS, count, replace=False)] = rng.dirichlet(np.ones(count))
    return weights


def sample(rng: np.random.Generator, topics: Topics, mix: npt.NDArray[np.float64], count: int) -> Vectors:
    """`count` unit vectors from a topic mix, generated topic by topic (one (count, rank, dim) array would take GBs)."""
    chosen = rng.choice(TOPICS, size=count, p=mix)
    vectors = np.empty((count, DIMENSION), dtype=np.float32)
    for topic in np.unique(chosen):
        rows = chosen == topic
        n = int(rows.sum())
        spread = rng.standard_normal((n, TOPIC_RANK), dtype=np.float32) * (TOPIC_SPREAD / np.sqrt(TOPIC_RANK))
        noise = rng.standard_normal((n, DIMENSION), dtype=np.float32) * (NOISE / np.sqrt(DIMENSION))
        vectors[rows] = topics.centroids[topic] + spread @ topics.bases[topic] + noise + topics.shared
    return unit_rows(vectors)


@dataclass
class Corpus:
    """Every row loaded, as the bench knows it: ids are chosen here, so any answer can be checked against the vectors."""

    topics: Topics
    users: list[uuid.UUID] = field(default_factory=list)
    mixes: list[npt.NDArray[np.float64]] = field(default_factory=list)
    ids: list[uuid.UUID] = field(default_factory=list)
    owners: npt.NDArray[np.int32] = field(default_factory=lambda: np.empty(0, dtype=np.int32))
    kinds: npt.NDArray[np.int8] = field(default_factory=lambda: np.empty(0, dtype=np.int8))  # index in MEMORY_TYPES
    vectors: Vectors = field(default_factory=lambda: np.empty((0, DIMENSION), dtype=np.float32))
    position: dict[uuid.UUID, int] = field(default_factory=dict)

    def add_user(self, rng: np.random.Generator, topic_count: int) -> int:
        self.users.append(uuid.UUID(int=int(rng.integers(1 << 62)) << 64 | int(rng.integers(1 << 62)), version=4))
        self.mixes.append(topic_mix(rng, topic_count))
        return len(self.users) - 1

    def add_rows(
        self, owners: npt.NDArray[np.int32], kinds: npt.NDArray[np.int8], vectors: Vectors, rng: np.random.Generator
    ) -> list[uuid.UUID]:
        ids = [uuid.UUID(int=int(a) << 64 | int(b), version=4) for a, b in rng.integers(1 << 62, size=(len(owners), 2))]
        self.position.update((row_id, len(self.ids) + i) for i, row_id in enumerate(ids))
        self.ids += ids
        self.owners = np.concatenate([self.owners, owners])
        self.kinds = np.concatenate([self.kinds, kinds])
        self.vectors = np.concatenate([self.vectors, vectors])
        return ids

    def rows_of(self, user: int, memory_type: str | None = None) -> npt.NDArray[np.intp]:
        mine = self.owners == user
        return np.flatnonzero(mine if memory_type is None else mine & (self.kinds == MEMORY_TYPES.index(memory_type)))


@dataclass(frozen=True)
class Batch:
    """Rows to load, in load order."""

    ids: list[uuid.UUID]
    users: list[uuid.UUID]
    types: list[str]
    contents: list[str]
    vectors: Vectors


def small_users_batch(rng: np.random.Generator, corpus: Corpus) -> Batch:
    """Shape (a): 100 users x 1,000 rows, shuffled, as memories arrive from many users over time."""
    users = [corpus.add_user(rng, SMALL_USER_TOPICS) for _ in range(SMALL_USERS)]
    vectors = np.concatenate([sample(rng, corpus.topics, corpus.mixes[user], SMALL_USER_ROWS) for user in users])
    owners = np.repeat(np.array(users, dtype=np.int32), SMALL_USER_ROWS)
    order = rng.permutation(len(owners))
    return batch_of(rng, corpus, owners[order], vectors[order])


def power_user_batch(rng: np.random.Generator, corpus: Corpus) -> Batch:
    """Shape (b)'s addition: one user with 100,000 rows over 40 topics."""
    user = corpus.add_user(rng, POWER_USER_TOPICS)
    vectors = sample(rng, corpus.topics, corpus.mixes[user], POWER_USER_ROWS)
    return batch_of(rng, corpus, np.full(POWER_USER_ROWS, user, dtype=np.int32), vectors)


def batch_of(rng: np.random.Generator, corpus: Corpus, owners: npt.NDArray[np.int32], vectors: Vectors) -> Batch:
    """Short texts, unique per user and type as the dedupe index requires."""
    first = len(corpus.ids)
    kinds = rng.choice(len(MEMORY_TYPES), size=len(owners), p=TYPE_WEIGHTS).astype(np.int8)
    ids = corpus.add_rows(owners, kinds, vectors, rng)
    types = [MEMORY_TYPES[kind] for kind in kinds]
    contents = [f"Memory {first + i}: {kind.replace('_', ' ')} noted by the agent during a run." for i, kind in enumerate(types)]
    return Batch(ids, [corpus.users[owner] for owner in owners], types, contents, vectors)
