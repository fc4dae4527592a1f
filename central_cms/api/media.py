"""/media: the library of images and videos campaigns show."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from central_cms import db, library
from central_cms import models as m
from central_cms.api.blueprint import actor, all_of, api, operation
from central_cms.api.schemas import MediaIn, MediaOut
from central_cms.runtime import runtime


@operation("GET", "/media")
@api.output(MediaOut(many=True))
def list_media() -> Any:
    return all_of(select(m.MediaAsset).order_by(m.MediaAsset.id))


@operation("POST", "/media", errors=(409, 413, 422))
@api.input(MediaIn, location="form_and_files", arg_name="data")
@api.output(MediaOut, status_code=201)
def upload_media(data: dict[str, Any]) -> Any:
    file = data["file"]
    return library.upload(
        db.session(),
        runtime(),
        actor(),
        filename=file.filename or "upload",
        data=file.read(),
        title=data["title"],
        site_id=data.get("site_id"),
    )
