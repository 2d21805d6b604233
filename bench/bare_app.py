"""The baseline: a bare Litestar endpoint that decodes a profile and echoes it back.

Same framework, same server settings, same bodies as ``POST /assess``; no rules, no pricing,
no signing, no database. The advisor's throughput is reported as a share of this one's.
"""

from __future__ import annotations

from litestar import Litestar, post

from advisor.domain.profile import Profile


@post("/echo", status_code=201)
async def echo(data: Profile) -> Profile:
    return data


app = Litestar(route_handlers=[echo], debug=False)
