"""What memory_write and memory_read share: the memory types (seed 001 §4) and the embedding check per container."""

from typing import Literal

from agentmode.embeddings import Embedder, check_dimension, embedder_for
from agentmode.settings import Settings

# brand_memory: the brand's voice, product and audience (agent_start requires one); preference: how the user likes
# things done; insight: something an agent learned; competitor: facts about a competitor; campaign_result: how a
# published campaign performed.
MemoryType = Literal["brand_memory", "preference", "insight", "competitor", "campaign_result"]
# What a runner may write (step 7, Update memory): what the run learned. The database holds the same rule for runner
# credentials (20261203000000_runner_loop.sql, agent_memory_runner_*); the tests hold the two together.
RUNNER_MEMORY_TYPES = ("insight", "campaign_result")

_checked_dimension = False


def ready_embedder(settings: Settings) -> Embedder:
    """The container's embedder, after a one-time check that the database column has the configured dimension."""
    global _checked_dimension
    if not _checked_dimension:
        check_dimension(settings)
        _checked_dimension = True
    return embedder_for(settings)
