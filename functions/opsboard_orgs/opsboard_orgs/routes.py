"""The routes of /opsboard/orgs: parse, then one user transaction in which the database's rules decide.

Seed 000's paths and verbs, and the real AgentOps dashboard's spellings of the same actions (`/create`, `/update`,
`/accept`, `/members/remove`, `/members/update`), served by the same handlers from one route table (template.yaml).
"""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, status

from agentmode.app_factory import documented_errors
from agentmode.auth import CurrentUser
from agentmode.db import user_transaction
from agentmode.membership import database_rules
from agentmode.seats import sync_after_commit
from agentmode.settings import get_settings
from opsboard_orgs import invites, org_store
from opsboard_orgs.schemas import (
    EMAIL_PATTERN,
    InviteBody,
    InviteCreated,
    MemberBody,
    MyInvite,
    Org,
    OrgDetail,
    OrgNameBody,
    PendingInvite,
    RoleChangeBody,
    Status,
)

router = APIRouter(tags=["organizations"])

OrgId = Annotated[UUID, Path(description="An organization the caller belongs to.")]


NOT_FOUND = (404, "NOT_FOUND: no such organization for this caller (non-members cannot tell it exists)")
FORBIDDEN = (403, "ROLE_NOT_ALLOWED: the caller's role does not allow this")
LIMITED = (403, "ROLE_NOT_ALLOWED, or PLAN_LIMIT_REACHED: the free plan's member limit (pending invites count)")
MEMBER = (404, "NOT_FOUND (organization) or MEMBER_NOT_FOUND (the user is not a member)")
LAST_OWNER = (409, "LAST_OWNER: the organization would be left without an owner")


@router.get("/opsboard/orgs", response_model=list[Org])
async def list_orgs(user: CurrentUser) -> list[Org]:
    with user_transaction(user, rollback=True) as conn:
        return org_store.list_orgs(conn)


@router.get("/opsboard/orgs/invites", response_model=list[MyInvite])
async def my_invites(user: CurrentUser) -> list[MyInvite]:
    with user_transaction(user, rollback=True) as conn:
        return invites.my_invites(conn)


async def create_org(user: CurrentUser, body: OrgNameBody) -> Org:
    with database_rules(), user_transaction(user) as conn:
        return org_store.create_org(conn, body.name)


for path, operation_id in (("/opsboard/orgs", None), ("/opsboard/orgs/create", "create_org_dashboard")):
    router.add_api_route(
        path, create_org, methods=["POST"], response_model=Org, status_code=status.HTTP_201_CREATED,
        operation_id=operation_id,
    )  # fmt: skip


@router.get("/opsboard/orgs/{org_id}", response_model=OrgDetail, responses=documented_errors(NOT_FOUND))
async def get_org(user: CurrentUser, org_id: OrgId) -> OrgDetail:
    with database_rules(), user_transaction(user, rollback=True) as conn:
        return org_store.org_detail(conn, org_id)


async def rename_org(user: CurrentUser, org_id: OrgId, body: OrgNameBody) -> Org:
    with database_rules(), user_transaction(user) as conn:
        return org_store.rename_org(conn, org_id, body.name)


router.add_api_route(
    "/opsboard/orgs/{org_id}", rename_org, methods=["PUT"], response_model=Org, responses=documented_errors(NOT_FOUND, FORBIDDEN)
)
router.add_api_route(
    "/opsboard/orgs/{org_id}/update", rename_org, methods=["POST"], response_model=Org,
    responses=documented_errors(NOT_FOUND, FORBIDDEN), operation_id="rename_org_dashboard",
)  # fmt: skip


@router.delete(
    "/opsboard/orgs/{org_id}",
    response_model=Status,
    responses=documented_errors(
        NOT_FOUND, (403, "ROLE_NOT_ALLOWED: owners only"), (409, "ORG_HAS_SUBSCRIPTION or ORG_HAS_PROJECTS: those first")
    ),
)
async def delete_org(user: CurrentUser, org_id: OrgId) -> Status:
    with database_rules(), user_transaction(user) as conn:
        org_store.delete_org(conn, org_id)
    return Status(message="Organization deleted.")


@router.post(
    "/opsboard/orgs/{org_id}/invite",
    response_model=InviteCreated,
    status_code=status.HTTP_201_CREATED,
    responses=documented_errors(
        NOT_FOUND,
        LIMITED,
        (409, "ALREADY_MEMBER, or INVITE_PENDING: one pending invite per address"),
        (429, "RATE_LIMIT_EXCEEDED: API calls, or this user's invites per hour"),
        (502, "INVITE_NOT_SENT: Supabase Auth did not take the e-mail; nothing was saved"),
    ),
)
async def invite(user: CurrentUser, org_id: OrgId, body: InviteBody) -> InviteCreated:
    with database_rules(), user_transaction(user) as conn:
        return invites.create_invite(conn, org_id, body, get_settings())


@router.get(
    "/opsboard/orgs/{org_id}/invites", response_model=list[PendingInvite], responses=documented_errors(NOT_FOUND, FORBIDDEN)
)
async def org_invites(user: CurrentUser, org_id: OrgId) -> list[PendingInvite]:
    with database_rules(), user_transaction(user, rollback=True) as conn:
        return invites.org_invites(conn, org_id)


@router.delete(
    "/opsboard/orgs/{org_id}/invites/{email}",
    response_model=Status,
    responses=documented_errors(NOT_FOUND, FORBIDDEN, (404, "INVITE_NOT_FOUND: no pending invite for the address")),
)
async def revoke_invite(
    user: CurrentUser, org_id: OrgId, email: Annotated[str, Path(max_length=320, pattern=EMAIL_PATTERN)]
) -> Status:
    with database_rules(), user_transaction(user) as conn:
        invites.revoke_invite(conn, org_id, email.lower())
    return Status(message="Invite revoked.")


INVITE_ANSWER_ERRORS = documented_errors(
    (404, "INVITE_NOT_FOUND: no pending invite to this organization for the caller's verified e-mail"),
    (409, "ALREADY_MEMBER"),
    (410, "INVITE_EXPIRED"),
)


async def accept_invite(user: CurrentUser, org_id: OrgId) -> Status:
    with database_rules(), user_transaction(user) as conn:
        outcome = invites.answer_invite(conn, org_id, accept=True)
    invites.refuse_expired(outcome)
    sync_after_commit(org_id)
    return Status(message="Invite accepted.")


for path, operation_id in (("accept-invite", None), ("accept", "accept_invite_dashboard")):
    router.add_api_route(
        f"/opsboard/orgs/{{org_id}}/{path}", accept_invite, methods=["POST"], response_model=Status,
        responses=INVITE_ANSWER_ERRORS | documented_errors((403, "PLAN_LIMIT_REACHED: no seat left")), operation_id=operation_id,
    )  # fmt: skip


@router.post("/opsboard/orgs/{org_id}/decline-invite", response_model=Status, responses=INVITE_ANSWER_ERRORS)
async def decline_invite(user: CurrentUser, org_id: OrgId) -> Status:
    with database_rules(), user_transaction(user) as conn:
        outcome = invites.answer_invite(conn, org_id, accept=False)
    invites.refuse_expired(outcome)
    return Status(message="Invite declined.")


@router.post("/opsboard/orgs/{org_id}/leave", response_model=Status, responses=documented_errors(NOT_FOUND, LAST_OWNER))
async def leave_org(user: CurrentUser, org_id: OrgId) -> Status:
    with database_rules(), user_transaction(user) as conn:
        org_store.leave_org(conn, org_id)
    sync_after_commit(org_id)
    return Status(message="You left the organization.")


async def remove_member(user: CurrentUser, org_id: OrgId, body: MemberBody) -> Status:
    with database_rules(), user_transaction(user) as conn:
        org_store.remove_member(conn, org_id, body.user_id)
    sync_after_commit(org_id)
    return Status(message="Member removed.")


async def change_role(user: CurrentUser, org_id: OrgId, body: RoleChangeBody) -> Status:
    with database_rules(), user_transaction(user) as conn:
        org_store.change_role(conn, org_id, body.user_id, body.role)
    return Status(message=f"Role changed to {body.role}.")


for path, handler, operation_id in (
    ("remove-member", remove_member, None),
    ("members/remove", remove_member, "remove_member_dashboard"),
    ("change-role", change_role, None),
    ("members/update", change_role, "change_role_dashboard"),
):
    router.add_api_route(
        f"/opsboard/orgs/{{org_id}}/{path}", handler, methods=["POST"], response_model=Status,
        responses=documented_errors(MEMBER, FORBIDDEN, LAST_OWNER), operation_id=operation_id,
    )  # fmt: skip
