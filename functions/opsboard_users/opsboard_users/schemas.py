"""Request and response bodies of /opsboard/users (seed 000's User, UserUpdate and Status)."""

from typing import Annotated, Any
from urllib.parse import urlsplit
from uuid import UUID

from pydantic import AfterValidator, ConfigDict, Field, StrictBool

from agentmode.api_model import ApiModel
from agentmode.app_factory import RequestBody, json_size, nesting_problem

MAX_FULL_NAME = 200
MAX_AVATAR_URL = 2048
MAX_OBJECT_BYTES = 4096
MAX_OBJECT_DEPTH = 8


def _https_url(url: str) -> str:
    """An absolute https URL with a host: an avatar is shown in other members' browsers, so no other scheme
    (javascript:, data:, http:) and no whitespace or control characters that could split it."""
    if " " in url or not url.isprintable():
        raise ValueError("must not contain spaces, control or separator characters")
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError("must be an https URL with a host")
    _ = parts.port  # raises ValueError for a port that is not a number in range
    return url


def _small_object(value: dict[str, Any]) -> dict[str, Any]:
    if problem := nesting_problem(value, MAX_OBJECT_DEPTH):
        raise ValueError(problem)
    if json_size(value) > MAX_OBJECT_BYTES:
        raise ValueError(f"must serialise to at most {MAX_OBJECT_BYTES} bytes")
    return value


HttpsUrl = Annotated[str, Field(min_length=1, max_length=MAX_AVATAR_URL), AfterValidator(_https_url)]
SmallObject = Annotated[dict[str, Any], AfterValidator(_small_object)]


class UserProfile(ApiModel):
    """Seed 000's User. `email` is Supabase Auth's (changed only there, and verified there), never a profile field."""

    id: UUID
    full_name: str | None
    avatar_url: str | None
    billing_address: dict[str, Any] | None
    payment_method: dict[str, Any] | None
    email: str | None
    email_verified: bool = Field(description="Whether Supabase Auth has confirmed `email`.")
    survey_is_complete: bool


class UserProfileUpdate(RequestBody):
    """The fields to change; absent or null ones stay as they are. Any other field, `email` included, is a 400: the
    e-mail is changed through Supabase Auth, which verifies it."""

    model_config = ConfigDict(extra="forbid")

    full_name: Annotated[str, Field(max_length=MAX_FULL_NAME)] | None = None
    avatar_url: HttpsUrl | None = None
    billing_address: SmallObject | None = None
    payment_method: SmallObject | None = None
    survey_is_complete: StrictBool | None = None


class SurveyCompleted(ApiModel):
    """The real server's Status body."""

    success: bool = True
    message: str
