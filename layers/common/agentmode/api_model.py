"""The base of the functions' request and response bodies."""

from pydantic import BaseModel, ConfigDict


class ApiModel(BaseModel):
    """A body whose validator and serializer are built on first use, not at import: FastAPI makes a TypeAdapter per
    route for its body and response models, which for a function of 20 routes cost ~20 ms of every cold start, though a
    cold start's first request uses one route's models (bench/functions.py). Pydantic's `defer_build` reaches those
    adapters too, as they wrap the model itself; the first request of a route builds its models, then they are kept."""

    model_config = ConfigDict(defer_build=True)
