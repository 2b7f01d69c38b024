"""Placeholder: filled in by its issue."""
from aiohttp import web


def setup_outreach_packs(app: web.Application) -> None:
    """Routes for this part of the gateway."""
