"""``GET /metrics`` (Litestar's Prometheus integration) for the ``monitor`` and ``admin`` roles.

The counters live in ``advisor.metrics``; this is the route that serves them, with the service's
access rules and documentation.
"""

from __future__ import annotations

import os

from litestar import Controller, Response, get
from litestar.plugins.prometheus import PrometheusConfig
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

from advisor.api.access import allow
from advisor.api.openapi_docs import AUTH_RESPONSES
from advisor.auth.clients import Role
from advisor.metrics import PREFIX


def prometheus_config() -> PrometheusConfig:
    # Route templates, not paths: one series per route, whatever ids are requested.
    return PrometheusConfig(app_name="llm-hosting-advisor", prefix=PREFIX, group_path=True)


class MetricsController(Controller):
    """``GET /metrics`` in the Prometheus text format; never open: a ``monitor`` (or ``admin``) key.

    What Litestar's ``PrometheusController`` serves, with the service's access rules and documentation.
    """

    path = "/metrics"
    tags = ["service"]

    @get("/", summary="Prometheus metrics", operation_id="metrics", media_type=CONTENT_TYPE_LATEST,
         description="Requests by route and status, durations, assessments by decision, writer batches, chain "
         "length, helper restarts, integrity failures. For the monitor and admin roles.",
         responses=AUTH_RESPONSES, opt=allow({Role.MONITOR, Role.ADMIN}))
    async def metrics(self) -> Response[bytes]:
        registry = REGISTRY
        if "PROMETHEUS_MULTIPROC_DIR" in os.environ:  # --workers N: every worker's counters, from their files
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
