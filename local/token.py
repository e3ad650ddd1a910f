"""Mints a Supabase-style user JWT for the local stack: `make token USER=<uuid>` (default: the demo user)."""

import argparse
import sys
import time
from uuid import UUID

import jwt
import psycopg

from local import devconfig


def mint_token(
    user_id: UUID, secret: str, *, ttl_seconds: int = 3600, email: str | None = None, issuer: str = devconfig.DEV_JWT_ISSUER
) -> str:
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": str(user_id),
        "aud": "authenticated",
        "role": "authenticated",
        "iat": now,
        "exp": now + ttl_seconds,
        "email": email or f"{user_id}@agentmode.local",
        "aal": "aal1",
        "session_id": str(UUID(int=now)),
        "iss": issuer,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def ensure_local_user(user_id: UUID, email: str) -> bool:
    """Supabase has the user once it issued the token; locally, add it to auth.users if the stack is running."""
    try:
        with psycopg.connect(devconfig.local_database_url(), connect_timeout=2, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO auth.users (id, email, email_confirmed_at) VALUES (%s, %s, now()) ON CONFLICT (id) DO NOTHING",
                (user_id, email),
            )
        return True
    except psycopg.Error:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--user", type=UUID, default=devconfig.DEMO_USER_ID)
    parser.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")
    args = parser.parse_args()
    email = devconfig.DEMO_USER_EMAIL if args.user == devconfig.DEMO_USER_ID else f"{args.user}@agentmode.local"
    if not ensure_local_user(args.user, email):
        print("note: the local stack is not running; the user is added to auth.users when it is.", file=sys.stderr)
    print(mint_token(args.user, devconfig.jwt_secret(), ttl_seconds=args.ttl, email=email))


if __name__ == "__main__":
    main()
