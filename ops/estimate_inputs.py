"""The inputs ``ops.estimate`` accepts, each refused in one sentence (``EstimateError``).

The CLI turns the error into its message and exit code (``cli/errors.py``); the
estimate itself assumes what passed here.
"""

from __future__ import annotations

from contract.config import STREAM_MODES

MAX_ITEM_BYTES = 400 * 1024  # DynamoDB's item size limit, 400 KB


class EstimateError(ValueError):
    """An input the estimate cannot use; the message is one sentence."""


def check_load(
    cps: float, item_bytes: int, tables: int, mode: str, shards: int | None, images: float
) -> None:
    """Refuse a load the estimate cannot price."""
    if isinstance(cps, bool) or not isinstance(cps, int | float) or not cps > 0:
        raise EstimateError(f"changes per second must be a positive number, got {cps!r}.")
    if isinstance(item_bytes, bool) or not isinstance(item_bytes, int) or item_bytes <= 0:
        raise EstimateError(f"item bytes must be a positive whole number, got {item_bytes!r}.")
    if item_bytes > MAX_ITEM_BYTES:
        raise EstimateError(
            f"item bytes is {item_bytes}; a DynamoDB item is at most 400 KB (409,600 bytes)."
        )
    if isinstance(tables, bool) or not isinstance(tables, int) or tables <= 0:
        raise EstimateError(f"tables must be a positive whole number, got {tables!r}.")
    if mode not in STREAM_MODES:
        raise EstimateError(f"stream mode must be on-demand or provisioned, got {mode!r}.")
    if shards is not None and (mode != "provisioned" or shards <= 0):
        raise EstimateError("shards is a positive whole number, and only with provisioned mode.")
    if not 1 <= images <= 2:
        raise EstimateError(f"images per change must be between 1 and 2, got {images!r}.")


def check_settings(**settings: int) -> None:
    """Refuse a deployment setting that is not a positive whole number."""
    for name, value in settings.items():
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise EstimateError(f"{name} must be a positive whole number, got {value!r}.")
