"""The dashboard's routes (a placeholder: the dashboard is built separately and replaces this file)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from algotrade.live.ops.state import OpsContext, RunState


def routes(state: RunState, ctx: OpsContext) -> list[BaseRoute]:
    """The dashboard's routes, mounted at / of the ops server."""
    return []
