"""/playlists: named runs of pictures, videos and text slides a campaign's zone plays
(site editors: their sites' playlists only, as on Playlists). Widget items are made on
the Playlists page only."""

from __future__ import annotations

from typing import Any

from central_cms import db
from central_cms import playlists as playlist_service
from central_cms.api.blueprint import actor, api, operation
from central_cms.api.schemas import PlaylistIn, PlaylistOut
from central_cms.api.spec import links
from central_cms.errors import NotFound
from central_cms.playlist_models import Playlist
from central_cms.runtime import runtime
from devices.protocol import Fit, ItemKind, TextSlide

PLAYLIST_STEPS = {"get": "get /playlists/{playlist_id}", "update": "put /playlists/{playlist_id}"}


def playlist_input(data: dict[str, Any]) -> playlist_service.PlaylistInput:
    return playlist_service.PlaylistInput(
        name=data["name"],
        owner_site_id=data["owner_site_id"],
        items=tuple(
            playlist_service.PlaylistItemInput(
                kind=ItemKind(i["kind"]),
                duration_s=i["duration_s"],
                media_id=i["media_id"],
                text=TextSlide(**i["text"]) if i["text"] else None,
                alt_text=i["alt_text"],
                fit=Fit(i["fit"]),
                valid_from=i["valid_from"],
                valid_until=i["valid_until"],
            )
            for i in data["items"]
        ),
    )


def _visible(playlist_id: str) -> Playlist:
    """The playlist, if the token's user may see it (an editor: their sites' only)."""
    playlist = db.session().get(Playlist, playlist_id)
    if playlist is None or not actor().covers_site(playlist.owner_site_id):
        raise NotFound(f"playlist {playlist_id}")
    return playlist


@operation("GET", "/playlists")
@api.output(PlaylistOut(many=True))
def list_playlists() -> Any:
    return playlist_service.visible(db.session(), actor())


@operation("POST", "/playlists", errors=(400, 409, 422))
@api.input(PlaylistIn, arg_name="data")
@api.output(PlaylistOut, status_code=201, links=links("playlist_id", PLAYLIST_STEPS))
def create_playlist(data: dict[str, Any]) -> Any:
    return playlist_service.save(db.session(), runtime(), actor(), playlist_input(data))


@operation("GET", "/playlists/<playlist_id>", errors=(404,))
@api.output(PlaylistOut)
def get_playlist(playlist_id: str) -> Any:
    return _visible(playlist_id)


@operation("PUT", "/playlists/<playlist_id>", errors=(400, 404, 409, 422))
@api.input(PlaylistIn, arg_name="data")
@api.output(PlaylistOut)
def update_playlist(playlist_id: str, data: dict[str, Any]) -> Any:
    """Change a playlist; published campaigns playing it go back to draft for approval."""
    playlist = _visible(playlist_id)
    return playlist_service.save(
        db.session(), runtime(), actor(), playlist_input(data), playlist.id
    )
