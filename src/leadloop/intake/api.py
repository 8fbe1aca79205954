from typing import Annotated

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import ConfigDict, StrictInt, StringConstraints

from leadloop.config.api import Input
from leadloop.intake.models import Channel
from leadloop.intake.services import channel_create, channel_inbound_path

router = Router(tags=["workspace"])


class ChannelIn(Schema, Input):
    model_config = ConfigDict(extra="forbid")
    kind: Channel.Kind
    name: Annotated[str, StringConstraints(max_length=100)]
    settings: dict[
        str, Annotated[str, StringConstraints(max_length=2000)] | StrictInt | list[str]
    ] = {}


class ChannelOut(Schema):
    id: int
    kind: str
    name: str
    key: str
    inbound_url: str


@router.post("/channels", response={201: ChannelOut})
def create_channel(request: HttpRequest, payload: ChannelIn):
    actor = request.auth
    channel = channel_create(workspace=actor.workspace, actor=actor, **payload.model_dump())
    url = request.build_absolute_uri(channel_inbound_path(channel))
    return Status(
        201,
        {
            "id": channel.id,
            "kind": channel.kind,
            "name": channel.name,
            "key": channel.key,
            "inbound_url": url,
        },
    )
