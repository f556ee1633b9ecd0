"""Photo upload from the project page: one XHR per file, answered with HTML.

It runs the very steps ``POST /v1/projects/{id}/images`` runs (``upload.admit``, the
streaming multipart reader with its caps, ``upload.parse_params``, ``upload.accept``);
only the answer differs: the new image cards on success, or an inline error fragment
(with an "Upgrade" button when over quota) that the page shows next to that file.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from vstage.auth.dependencies import CommittedUser
from vstage.dependencies import DatabaseDep, SettingsDep, StorageDep
from vstage.errors import VstageError
from vstage.images import service as images
from vstage.images import upload
from vstage.images.multipart import UploadForm, read_multipart
from vstage.web import csrf
from vstage.web.deps import is_htmx
from vstage.web.templating import render
from vstage.web.views import view_of

router = APIRouter(include_in_schema=False)

ERROR_TITLES = {
    402: "Plan limit reached",
    413: "Too big",
    415: "Not a supported photo",
    422: "Could not use this photo",
    429: "Too many uploads",
}


def _form_fields(form: UploadForm) -> UploadForm:
    """The form as the API expects it: no CSRF field, empty optional fields omitted."""
    fields = {k: v for k, v in form.fields.items() if k != csrf.CSRF_FIELD and v != ""}
    return UploadForm(fields=fields, files=form.files)


def _error(request: Request, exc: VstageError) -> Response:
    return render(
        request,
        "partials/upload_error.html",
        {
            "status": exc.status_code,
            "title": ERROR_TITLES.get(exc.status_code, "Upload failed"),
            "message": exc.message,
            "over_quota": exc.status_code == 402,
            "limit": exc.extra.get("limit"),
            "used": exc.extra.get("used"),
        },
        status_code=exc.status_code,
    )


@router.post("/projects/{project_id}/upload")
async def upload_photo(
    request: Request,
    project_id: uuid.UUID,
    user: CommittedUser,
    db: DatabaseDep,
    storage: StorageDep,
    settings: SettingsDep,
) -> Response:
    try:
        header_token = request.headers.get(csrf.CSRF_HEADER)
        cookie = request.cookies.get(csrf.CSRF_COOKIE)
        # Checked before the body is read when the header is there (the page's script
        # always sends it); the no-script form sends the token as a field instead.
        if header_token is not None and not csrf.verify(settings.secret_key, cookie, header_token):
            raise csrf.CsrfError("this page has expired; reload it and try again")
        await upload.admit(db, settings, user, project_id)
        form = await read_multipart(
            request, file_fields=upload.FILE_FIELDS, max_file_bytes=settings.max_upload_bytes
        )
        if header_token is None and not csrf.verify(
            settings.secret_key, cookie, form.fields.get(csrf.CSRF_FIELD)
        ):
            raise csrf.CsrfError("this page has expired; reload it and try again")
        form = _form_fields(form)
        params = upload.parse_params(form)
        accepted = await upload.accept(
            db,
            storage,
            settings,
            user,
            project_id,
            form,
            params,
            idempotency_key=None,
            request_hash="",
        )
    except VstageError as exc:
        if exc.status_code == 404 or not is_htmx(request):
            raise
        return _error(request, exc)
    if not is_htmx(request):
        return RedirectResponse(f"/projects/{project_id}", status_code=303)
    async with db.transaction() as session:
        views = [
            await view_of(session, await images.get_image(session, user, item.id))
            for item in accepted.images
        ]
    return render(request, "partials/image_cards.html", {"items": views}, status_code=201)
