"""Placeholder: filled in by its issue."""
from aiohttp import web


def setup_stats(app: web.Application) -> None:
    """Routes for this part of the gateway."""
