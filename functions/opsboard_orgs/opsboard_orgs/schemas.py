"""Request and response bodies of /opsboard/orgs. Field names follow seed 000 and the real dashboard's IOrg/IUser."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import ConfigDict, Field, StringConstraints, field_validator

from agentmode.api_model import ApiModel
from agentmode.app_factory import RequestBody
from agentmode.membership import Role

OrgName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
# Deliberately loose (one @, no spaces or control characters): Supabase Auth decides what it can deliver to; this only
# keeps junk out, NUL included (Postgres cannot store it: a path parameter gets no RequestBody check).
EMAIL_PATTERN = r"^[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$"


class OrgNameBody(RequestBody):
    model_config = ConfigDict(extra="forbid")
    name: OrgName


class InviteBody(RequestBody):
    model_config = ConfigDict(extra="forbid")
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=320, pattern=EMAIL_PATTERN)]
    role: Role = "developer"

    @field_validator("email")
    @classmethod
    def lowercase(cls, value: str) -> str:
        return value.lower()


class MemberBody(RequestBody):
    model_config = ConfigDict(extra="forbid")
    user_id: UUID


class RoleChangeBody(MemberBody):
    role: Role


class Status(ApiModel):
    """Seed 000's answer to an action."""

    success: Literal[True] = True
    message: str


class Org(ApiModel):
    id: UUID
    name: str
    prem_status: Literal["free", "pro"] = Field(description="The plan in effect (pro lapses to free after the grace).")
    subscription_id: str | None
    subscription_status: str | None
    subscription_start_date: int | None = Field(default=None, description="Not tracked; always null.")
    subscription_end_date: int | None = Field(description="Unix seconds, from Stripe's webhook (no Stripe call).")
    subscription_cancel_at_period_end: bool
    current_user_role: Role
    current_member_count: int = Field(description="Members plus pending invites (each reserves a seat).")
    member_count: int
    pending_invite_count: int
    max_member_count: int | None = Field(description="The plan's limit; null is none.")
    current_project_count: int
    max_project_count: int | None
    paid_member_count: int = Field(description="Seats billed: every member of a pro organization.")
    is_demo: bool
    created_at: datetime


class Member(ApiModel):
    user_id: UUID
    org_id: UUID
    role: Role
    user_email: str | None
    is_paid: bool
    joined_at: datetime


class OrgDetail(Org):
    users: list[Member] = Field(description="Empty for the demo organization, whose members are never listed.")


class PendingInvite(ApiModel):
    """An invite of one organization, as its admins see it."""

    email: str
    role: Role
    inviter_id: UUID | None
    created_at: datetime
    expires_at: datetime


class MyInvite(ApiModel):
    """An invite to the caller (matched on their verified e-mail), as seed 000's GET /orgs/invites lists it."""

    org_id: UUID
    org_name: str
    role: Role
    inviter_id: UUID | None
    invitee_email: str
    created_at: datetime
    expires_at: datetime


class InviteCreated(Status):
    email: str
    role: Role
    expires_at: datetime
