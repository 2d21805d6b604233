"""Client management for admins: create (the key is shown once), list, read, revoke.

The same operations exist offline as ``advisor clients create|list|revoke``.
"""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
import msgspec
from litestar import Controller, Response, get, post
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody

from advisor.api.access import MANAGE_CLIENTS, allow
from advisor.api.openapi_docs import AUTH_RESPONSES, PROBLEM_RESPONSES, READ_RESPONSES
from advisor.api.problems import Problem, problem
from advisor.api.strict_json import PathText
from advisor.auth.clients import Client, ClientStore, Role
from advisor.store.errors import LastAdmin

ClientName = Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$",
                                         description="A label for the client, e.g. the portal's name")]


RoleField = Annotated[Role, msgspec.Meta(description="assessor (a portal), reviewer, auditor or admin")]


class NewClient(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A client to create."""

    name: ClientName
    role: RoleField


class ClientView(msgspec.Struct, frozen=True, kw_only=True):
    """A client as admins see it (never its key)."""

    id: Annotated[str, msgspec.Meta(
        description="The client id (`cl-` and 16 hex digits); the `requester` of the records it creates")]
    name: Annotated[str, msgspec.Meta(description="Its label")]
    role: RoleField
    created_at: Annotated[str, msgspec.Meta(description="When it was created (RFC 3339, UTC)")]
    revoked_at: Annotated[str | None, msgspec.Meta(description="When its key was revoked; null while active")]
    active: Annotated[bool, msgspec.Meta(description="Its key works (not revoked)")]


class CreatedClient(ClientView, frozen=True, kw_only=True):
    """A client just created, with its API key: shown in this response only."""

    key: Annotated[str, msgspec.Meta(
        description="The API key, sent as `Authorization: Bearer <key>`; shown only now, stored only as its "
                    "SHA-256")] = msgspec.field(name="api_key")


def view(client: Client) -> ClientView:
    return ClientView(id=client.id, name=client.name, role=client.role, created_at=client.created_at,
                      revoked_at=client.revoked_at, active=client.revoked_at is None)


_WRITE_RESPONSES = {k: v for k, v in PROBLEM_RESPONSES.items() if k in (400, 413, 415, 503)} | AUTH_RESPONSES


class ClientsController(Controller):
    path = "/clients"
    tags = ["clients"]
    opt = allow(MANAGE_CLIENTS)

    @post("/", status_code=201, summary="Create a client and its API key (shown only in this response)",
          operation_id="createClient", responses=_WRITE_RESPONSES,
          response_headers=[ResponseHeader(name="Location", description="URL of the client", value="/clients/{id}",
                                           documentation_only=True)])
    async def create(self, data: JSONBody[NewClient],
                     clients: NamedDependency[ClientStore]) -> Response[CreatedClient]:
        client, key = await anyio.to_thread.run_sync(clients.create, data.name, data.role)
        base = view(client)
        created = CreatedClient(**{f: getattr(base, f) for f in base.__struct_fields__}, key=key)
        return Response(created, status_code=201, headers={"Location": f"/clients/{client.id}",
                                                           "Cache-Control": "no-store"})

    @get("/", summary="Every client (never a key)", operation_id="listClients", responses=AUTH_RESPONSES,
         sync_to_thread=True)
    def list_clients(self, clients: NamedDependency[ClientStore]) -> list[ClientView]:
        return [view(c) for c in clients.all()]

    @get("/{client_id:str}", summary="One client", operation_id="getClient", responses=READ_RESPONSES,
         sync_to_thread=True)
    def get_client(self, client_id: PathText, clients: NamedDependency[ClientStore]) -> ClientView:
        client = clients.get(client_id)
        if client is None:
            raise NotFoundException(f"no client {client_id}")
        return view(client)

    @post("/{client_id:str}/revoke", status_code=200, summary="Revoke a client's key, at once and for good",
          operation_id="revokeClient", sync_to_thread=True, responses={
              **READ_RESPONSES, 409: ResponseSpec(data_container=Problem, media_type="application/problem+json",
                                                  description="The client is the last active admin",
                                                  generate_examples=False)})
    def revoke(self, client_id: PathText, clients: NamedDependency[ClientStore]) -> ClientView:
        try:
            client = clients.revoke(client_id)
        except LastAdmin as exc:
            raise problem(409, "last-admin", "Last admin", str(exc)) from None
        if client is None:
            raise NotFoundException(f"no client {client_id}")
        return view(client)
