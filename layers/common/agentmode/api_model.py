"""The base of the functions' request and response bodies."""

from pydantic import BaseModel, ConfigDict


class ApiModel(BaseModel):
    """A body whose validator and serializer are built on first use, not at import. FastAPI makes a TypeAdapter per
    route for its response model, and pydantic's `defer_build` reaches it (it wraps the model itself), so a cold
    start builds only the response models its first request answers with; FastAPI still builds request bodies when it
    registers their route. In bench/functions.py this took opsboard_orgs (19 routes) from 1.35 to 1.32 x the baseline
    and opsboard_billing from 1.39 to 1.35 x; the rest moved within the noise."""

    model_config = ConfigDict(defer_build=True)
