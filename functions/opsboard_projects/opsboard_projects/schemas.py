"""Request and response bodies of /opsboard/projects (seed 000's Project, ProjectCreate, ProjectUpdate, Status)."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import ConfigDict, Field, StringConstraints

from agentmode.api_model import ApiModel
from agentmode.app_factory import RequestBody
from agentmode.membership import Plan, Role

Environment = Literal["production", "staging", "development", "community"]
ProjectName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class ProjectOrg(ApiModel):
    id: UUID
    name: str
    prem_status: Plan = Field(description="The organization's effective plan (a lapsed subscription is free).")
    current_user_role: Role


class Project(ApiModel):
    id: UUID
    org_id: UUID
    name: str
    environment: Environment
    api_key: UUID | None = Field(description="The SDK's key; null for business users, who never see it.")
    created_at: datetime
    org: ProjectOrg


class ProjectListItem(Project):
    span_count: int | None = Field(description="Spans the project ever stored; null while ClickHouse is unavailable.")
    trace_count: int | None = Field(description="Traces the project ever stored; null while ClickHouse is unavailable.")


class ProjectCreate(RequestBody):
    model_config = ConfigDict(extra="forbid")

    name: ProjectName
    org_id: UUID
    environment: Environment = "development"


class ProjectUpdate(RequestBody):
    """The fields to change; absent or null ones stay as they are."""

    model_config = ConfigDict(extra="forbid")

    name: ProjectName | None = None
    environment: Environment | None = None


class ProjectDeleted(ApiModel):
    """The real server's Status body."""

    success: bool = True
    message: str
