"""`python -m service` / `blockserve`: parse flags, serve until SIGTERM or SIGINT, drain, exit."""

import asyncio
import logging
import os
import signal
import sys

from service.front.config import ConfigError, parse


async def serve(argv: list[str] | None) -> int:
    config, models = parse(argv)
    from service.front.server import BlockServer

    server = BlockServer(config, models)
    await server.start()
    log = logging.getLogger("blockserve")
    log.info(
        "serving gRPC on %s:%d%s",
        config.bind_address,
        server.grpc_port,
        f", REST on {config.bind_address}:{server.rest_port}" if config.rest_api_port else "",
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("draining (up to %ss)", config.shutdown_grace_seconds)
    await server.stop()
    log.info("stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return asyncio.run(serve(argv))
    except ConfigError as e:
        print(f"blockserve: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
