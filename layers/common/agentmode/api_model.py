"""The base of the functions' request and response bodies."""

from pydantic import BaseModel, ConfigDict


class ApiModel(BaseModel):
    """A body whose validator and serializer are built on first use, not at import. FastAPI makes a TypeAdapter per
    route for its response model, and pydantic's `defer_build` reaches it (it wraps the model itself), so a cold
    start builds only the response models its first request answers with; FastAPI still builds request bodies when it
    registers their route. Small: in bench/functions.py the functions with the most routes (opsboard_orgs, 19;
    opsboard_billing, 11) moved within the run-to-run noise (±0.05 x the baseline)."""

    model_config = ConfigDict(defer_build=True)
