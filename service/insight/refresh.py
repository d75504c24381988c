"""The live-insight metrics' source: the front asks the workers for every version's summaries
now and then, merges them, and hands them to the collector that /metrics reads."""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from service.insight.fetch import ACTIVATIONS, DRIFT
from service.insight.merge import merge_insight
from service.insight.metrics import InsightCollector
from service.shared.errors import ServingError

log = logging.getLogger(__name__)

REFRESH_SECONDS = 5.0
"""How stale the metrics may be: a third of Prometheus's usual 15 s scrape interval."""

Key = tuple[str, int]


async def refresh_forever(
    versions: Callable[[], list[Key]],
    ask: Callable[[Key, str], Awaitable[list[bytes]]],
    collector: InsightCollector,
    interval: float = REFRESH_SECONDS,
) -> None:
    """Until cancelled: each version's merged activations and drift into `collector`."""
    while True:
        await asyncio.sleep(interval)
        for key in versions():
            try:
                activations = merge_insight(ACTIVATIONS, await ask(key, ACTIVATIONS))
                drift = merge_insight(DRIFT, await ask(key, DRIFT))
            except ServingError:  # unloaded meanwhile, a worker restarting, sampling off
                continue
            collector.update(activations=activations, drift=drift)  # type: ignore[arg-type]
