"""aiohttp web gateway."""
