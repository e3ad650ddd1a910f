"""The routes of opsboard_users: the caller's own profile, as `authenticated` under RLS."""

from fastapi import APIRouter

from agentmode.app_factory import documented_errors
from agentmode.auth import CurrentUser
from agentmode.db import user_transaction
from opsboard_users.profile import mark_survey_complete, read_profile, update_profile
from opsboard_users.schemas import SurveyCompleted, UserProfile, UserProfileUpdate

router = APIRouter(tags=["users"])

NO_PROFILE = documented_errors((404, "NOT_FOUND: the caller has no profile (a user older than profiles)"))


@router.get("/opsboard/users/me", response_model=UserProfile, responses=NO_PROFILE)
async def read_me(user: CurrentUser) -> UserProfile:
    with user_transaction(user, rollback=True) as conn:
        return read_profile(conn)


# The real dashboard posts to /opsboard/users/update.
@router.put("/opsboard/users/me", response_model=UserProfile, responses=NO_PROFILE)
@router.post("/opsboard/users/update", response_model=UserProfile, responses=NO_PROFILE)
async def update_me(body: UserProfileUpdate, user: CurrentUser) -> UserProfile:
    with user_transaction(user) as conn:
        update_profile(conn, body)
        return read_profile(conn)


@router.put("/opsboard/users/me/survey-complete", response_model=SurveyCompleted, responses=NO_PROFILE)
@router.post("/opsboard/users/complete_survey", response_model=SurveyCompleted, responses=NO_PROFILE)
async def complete_survey(user: CurrentUser) -> SurveyCompleted:
    with user_transaction(user) as conn:
        mark_survey_complete(conn)
    return SurveyCompleted(message="User survey marked complete.")
