"""``CurrentUser`` and ``AdminUser``: the identity every endpoint depends on.

Credentials, in order: ``Authorization: Bearer vst_…`` (a personal API key, any mode),
``Authorization: Bearer dev:<sub>`` (dev mode only), ``Authorization: Bearer <Auth0
JWT>`` (auth0 mode), then the signed session cookie. The role always comes from our
database, never from a token claim, and an API key never acts as admin.
"""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import Depends, Request

from vstage.apikeys import service as api_keys
from vstage.auth.service import get_or_create_user
from vstage.auth.session import SESSION_COOKIE, read_session
from vstage.dependencies import DatabaseDep, SessionDep, SettingsDep
from vstage.errors import Forbidden, Unauthorized
from vstage.models import Role, User

DEV_PREFIX = "dev:"
#: ``request.state`` attribute naming the API key a request authenticated with.
API_KEY_STATE = "api_key_id"


class TokenVerifier(Protocol):
    async def verify(self, token: str) -> dict[str, object]: ...

    async def close(self) -> None: ...


async def _subject(request: Request, settings: SettingsDep, db: DatabaseDep) -> str:
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("expected 'Authorization: Bearer <token>'")
        if api_keys.looks_like_key(token):
            key_id, key_owner = await api_keys.authenticate(db, token)
            setattr(request.state, API_KEY_STATE, key_id)
            return key_owner
        if token.startswith(DEV_PREFIX):
            if settings.auth_mode != "dev":
                raise Unauthorized("dev tokens are not accepted in auth0 mode")
            return token[len(DEV_PREFIX) :]
        if settings.auth_mode != "auth0":
            raise Unauthorized("dev mode accepts only 'Bearer dev:<sub>' tokens")
        verifier: TokenVerifier = request.app.state.token_verifier
        claims = await verifier.verify(token)
        return str(claims["sub"])
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        sub = read_session(settings.secret_key, cookie)
        if sub:
            return sub
    raise Unauthorized("authentication required")


CurrentSubject = Annotated[str, Depends(_subject)]
"""The caller's verified ``auth0_sub``, without a database round trip.

For hot read-only routes whose one query is scoped by owner anyway (joining ``users``
on the subject): a caller whose user row does not exist yet owns nothing and gets the
same 404 as anyone else. Routes that write, or need the role, use :data:`CurrentUser`.
"""


async def get_current_user(session: SessionDep, sub: Annotated[str, Depends(_subject)]) -> User:
    return await get_or_create_user(session, sub)


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_committed_user(db: DatabaseDep, sub: Annotated[str, Depends(_subject)]) -> User:
    """The caller, looked up (or created) in a short transaction of its own, committed.

    For endpoints that run several short transactions instead of the request's one
    (uploads, idempotent POSTs, event streams): they must not hold a connection, and on
    SQLite the write lock, while a large body streams in, and their side transactions
    (idempotency marker, rate-limit counter) reference a user row that must already be
    committed. The returned object is detached: use its attributes, don't ``add`` it.
    """
    async with db.transaction() as session:
        return await get_or_create_user(session, sub)


CommittedUser = Annotated[User, Depends(get_committed_user)]


def authenticated_by_api_key(request: Request) -> bool:
    """Whether this request's credentials are an API key rather than a person's login."""
    return getattr(request.state, API_KEY_STATE, None) is not None


async def get_admin_user(request: Request, user: CurrentUser) -> User:
    if authenticated_by_api_key(request):
        raise Forbidden("API keys never act as admin; sign in to use admin routes")
    if user.role != Role.admin.value:
        raise Forbidden("admin role required")
    return user


AdminUser = Annotated[User, Depends(get_admin_user)]
