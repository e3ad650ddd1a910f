"""The routes of opsboard_projects: parse, let Postgres decide membership and role, shape the project.

Every refusal for a project or organization the caller does not belong to is 404 NOT_FOUND, as for one that does not
exist; a member whose role is too low gets 403 ROLE_NOT_ALLOWED.
"""

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, status
from psycopg.rows import DictRow

from agentmode.app_factory import documented_errors
from agentmode.auth import CurrentUser
from agentmode.db import user_transaction
from opsboard_projects import project_store
from opsboard_projects.schemas import Project, ProjectCreate, ProjectDeleted, ProjectListItem, ProjectUpdate
from opsboard_projects.trace_counts import TraceCounts, trace_counts

router = APIRouter(tags=["projects"])

NOT_FOUND = documented_errors((404, "NOT_FOUND: no such project (or organization) for this caller"))


def refused(what: str) -> dict[int | str, dict[str, Any]]:
    return NOT_FOUND | documented_errors((403, what))


ProjectId = Annotated[UUID, Path(description="A project of an organization the caller belongs to.")]


@router.get("/opsboard/projects", response_model=list[ProjectListItem])
async def list_projects(user: CurrentUser) -> list[ProjectListItem]:
    with user_transaction(user, rollback=True) as conn:
        rows = project_store.my_projects(conn)
    counts = trace_counts([row["id"] for row in rows])
    return [_list_item(row, None if counts is None else counts[row["id"]]) for row in rows]


def _list_item(row: DictRow, counts: TraceCounts | None) -> ProjectListItem:
    return ProjectListItem(
        **project_store.project_fields(row),
        span_count=None if counts is None else counts.span_count,
        trace_count=None if counts is None else counts.trace_count,
    )


@router.get("/opsboard/projects/{project_id}", response_model=Project, responses=NOT_FOUND)
async def read_project(project_id: ProjectId, user: CurrentUser) -> Project:
    with user_transaction(user, rollback=True) as conn:
        return project_store.my_project(conn, project_id)


@router.post(
    "/opsboard/projects",
    response_model=Project,
    status_code=status.HTTP_201_CREATED,
    responses=refused("ROLE_NOT_ALLOWED (admin or owner only) or PLAN_LIMIT_REACHED (the plan's project limit)"),
)
async def create_project(body: ProjectCreate, user: CurrentUser) -> Project:
    with user_transaction(user) as conn:
        project_id = project_store.create_project(conn, body)
        return project_store.my_project(conn, project_id)


# The real dashboard posts to …/update and …/delete.
@router.put(
    "/opsboard/projects/{project_id}", response_model=Project, responses=refused("ROLE_NOT_ALLOWED (admin or owner only)")
)
@router.post(
    "/opsboard/projects/{project_id}/update", response_model=Project, responses=refused("ROLE_NOT_ALLOWED (admin or owner only)")
)
async def update_project(project_id: ProjectId, body: ProjectUpdate, user: CurrentUser) -> Project:
    with user_transaction(user) as conn:
        project_store.update_project(conn, project_id, body)
        return project_store.my_project(conn, project_id)


@router.delete(
    "/opsboard/projects/{project_id}", response_model=ProjectDeleted, responses=refused("ROLE_NOT_ALLOWED (owner only)")
)
@router.post(
    "/opsboard/projects/{project_id}/delete", response_model=ProjectDeleted, responses=refused("ROLE_NOT_ALLOWED (owner only)")
)
async def delete_project(project_id: ProjectId, user: CurrentUser) -> ProjectDeleted:
    with user_transaction(user) as conn:
        project_store.delete_project(conn, project_id)
    return ProjectDeleted(message="Project deleted.")


@router.post(
    "/opsboard/projects/{project_id}/regenerate-key",
    response_model=Project,
    responses=refused("ROLE_NOT_ALLOWED (admin or owner only)"),
)
async def regenerate_key(project_id: ProjectId, user: CurrentUser) -> Project:
    """A new API key; the old one stops resolving in the same commit."""
    with user_transaction(user) as conn:
        project_store.regenerate_key(conn, project_id)
        return project_store.my_project(conn, project_id)
