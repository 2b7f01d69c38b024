"""Shared verdicts ("发给家人看看"): the store of share records and the card as a PNG.

What a share holds and shows is decided in bot.kb.share (derived ids only); this package
keeps those records for seven days and draws the card for saving.
"""
from bot.share.store import Share, ShareStore, open_share_store, valid_share_id

__all__ = ["Share", "ShareStore", "open_share_store", "valid_share_id"]
