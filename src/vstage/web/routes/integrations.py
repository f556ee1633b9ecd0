"""Account → API keys and webhooks: the page over the ``/v1/api-keys`` and
``/v1/webhook-endpoints`` services (no logic of its own).

A new key and a new endpoint's signing secret are rendered straight into the answer to
the POST (never a redirect, never stored): that page is the only place they appear.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from vstage.apikeys import service as apikeys
from vstage.apikeys.schemas import ApiKeyCreate
from vstage.dependencies import SessionDep, SettingsDep
from vstage.errors import Conflict, InvalidInput
from vstage.models import User
from vstage.pagination import PageParams
from vstage.web.csrf import CsrfProtected
from vstage.web.deps import WebUser
from vstage.web.forms import parse_form
from vstage.web.templating import render
from vstage.webhooks import service as webhooks
from vstage.webhooks.schemas import WebhookEndpointCreate

router = APIRouter(include_in_schema=False)

PAGE = "/account/integrations"
LIST_LIMIT = 100
RECENT_ATTEMPTS = 5
#: The events the form offers (``job.progress`` is accepted by the API but not sent yet).
EVENT_CHOICES = ("image.ready", "image.failed")
NO_STORE = {"cache-control": "no-store"}


async def _page(
    request: Request,
    user: User,
    session: SessionDep,
    *,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    keys = await apikeys.list_keys(session, user, PageParams(limit=LIST_LIMIT, cursor=None))
    endpoints = await webhooks.list_endpoints(
        session, user, PageParams(limit=LIST_LIMIT, cursor=None)
    )
    recent = {
        e.id: await webhooks.list_attempts(
            session, user, e.id, PageParams(limit=RECENT_ATTEMPTS, cursor=None)
        )
        for e in endpoints
    }
    context: dict[str, Any] = {
        "keys": keys,
        "endpoints": endpoints,
        "attempts": recent,
        "event_choices": EVENT_CHOICES,
        "key_error": None,
        "key_name": "",
        "new_key": None,
        "webhook_error": None,
        "webhook_url": "",
        "webhook_events": list(EVENT_CHOICES),
        "new_secret": None,
        "notice": None,
    }
    context.update(extra)
    return render(request, "integrations.html", context, status_code=status_code, headers=NO_STORE)


@router.get(PAGE)
async def integrations_page(
    request: Request, user: WebUser, session: SessionDep, sent: str | None = None
) -> Response:
    notice = f"Test event {sent} queued; its delivery shows below." if sent else None
    return await _page(request, user, session, notice=notice)


@router.post("/account/api-keys")
async def create_api_key(
    request: Request,
    _csrf: CsrfProtected,
    user: WebUser,
    session: SessionDep,
    name: Annotated[str, Form()] = "",
) -> Response:
    body, error = parse_form(ApiKeyCreate, name=name)
    if body is None:
        return await _page(request, user, session, key_error=error, key_name=name, status_code=422)
    try:
        created = await apikeys.create_key(session, user, body.name)
    except Conflict as exc:
        return await _page(
            request, user, session, key_error=exc.message, key_name=name, status_code=409
        )
    return await _page(request, user, session, new_key=created)


@router.post("/account/api-keys/{key_id}/revoke")
async def revoke_api_key(
    key_id: uuid.UUID, _csrf: CsrfProtected, user: WebUser, session: SessionDep
) -> Response:
    await apikeys.revoke_key(session, user, key_id)
    return RedirectResponse(PAGE, status_code=303)


@router.post("/account/webhooks")
async def create_webhook(
    request: Request,
    _csrf: CsrfProtected,
    user: WebUser,
    session: SessionDep,
    settings: SettingsDep,
    url: Annotated[str, Form()] = "",
    events: Annotated[list[str] | None, Form()] = None,
) -> Response:
    chosen = events or []
    body, error = parse_form(WebhookEndpointCreate, url=url, events=chosen)
    status_code = 422
    if body is not None:
        try:
            endpoint = await webhooks.create_endpoint(
                session, user, body.url, body.events, settings
            )
        except (InvalidInput, Conflict) as exc:
            error, status_code = exc.message, exc.status_code
        else:
            return await _page(request, user, session, new_secret=endpoint)
    return await _page(
        request,
        user,
        session,
        webhook_error=error,
        webhook_url=url,
        webhook_events=chosen,
        status_code=status_code,
    )


@router.post("/account/webhooks/{endpoint_id}/delete")
async def delete_webhook(
    endpoint_id: uuid.UUID, _csrf: CsrfProtected, user: WebUser, session: SessionDep
) -> Response:
    await webhooks.delete_endpoint(session, user, endpoint_id)
    return RedirectResponse(PAGE, status_code=303)


@router.post("/account/webhooks/{endpoint_id}/test")
async def send_test_event(
    endpoint_id: uuid.UUID, _csrf: CsrfProtected, user: WebUser, session: SessionDep
) -> Response:
    event = await webhooks.send_test_event(session, user, endpoint_id)
    return RedirectResponse(f"{PAGE}?sent={event.id}", status_code=303)
