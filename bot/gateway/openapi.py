"""Placeholder: filled in by its issue."""
from aiohttp import web


def setup_openapi(app: web.Application) -> None:
    """Routes for this part of the gateway."""
