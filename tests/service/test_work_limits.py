"""--grpc_max_threads and --rest_api_num_threads: past the bound, requests wait their turn."""

import asyncio
from collections import namedtuple

import aiohttp
import grpc
from aiohttp import web

from service.front.work_limits import GrpcTurns, rest_turns

Details = namedtuple("Details", ["method", "invocation_metadata"])


class Busy:
    """A handler that counts how many of its calls run at once."""

    def __init__(self) -> None:
        self.now = self.most = 0

    async def __call__(self, *args: object) -> str:
        self.now += 1
        self.most = max(self.most, self.now)
        await asyncio.sleep(0.05)
        self.now -= 1
        return "done"


def test_grpc_calls_past_the_limit_wait_their_turn() -> None:
    async def scenario() -> tuple[int, list[object]]:
        busy = Busy()

        async def predict(request: object, context: object) -> str:
            return await busy()

        async def continuation(details: Details) -> grpc.RpcMethodHandler:
            return grpc.unary_unary_rpc_method_handler(predict)

        turns = GrpcTurns(2)
        handler = await turns.intercept_service(
            continuation, Details("/tensorflow.serving.PredictionService/Predict", ())
        )
        answers = await asyncio.gather(*(handler.unary_unary(None, None) for _ in range(6)))
        return busy.most, answers

    most, answers = asyncio.run(scenario())
    assert most == 2 and answers == ["done"] * 6


def test_grpc_health_checks_never_wait() -> None:
    async def scenario() -> bool:
        async def check(request: object, context: object) -> str:
            return "SERVING"

        original = grpc.unary_unary_rpc_method_handler(check)

        async def continuation(details: Details) -> grpc.RpcMethodHandler:
            return original

        handler = await GrpcTurns(1).intercept_service(
            continuation, Details("/grpc.health.v1.Health/Check", ())
        )
        return handler is original

    assert asyncio.run(scenario())


def test_rest_requests_past_the_limit_wait_their_turn_and_probes_do_not() -> None:
    async def scenario() -> tuple[int, list[int], int]:
        busy = Busy()

        async def work(request: web.Request) -> web.Response:
            await busy()
            return web.Response(text="ok")

        async def ready(request: web.Request) -> web.Response:
            return web.Response(text=str(busy.now))

        app = web.Application(middlewares=[rest_turns(2)])
        app.router.add_get("/work", work)
        app.router.add_get("/readyz", ready)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            async with aiohttp.ClientSession() as session:

                async def get(path: str) -> tuple[int, str]:
                    async with session.get(f"http://127.0.0.1:{port}{path}") as response:
                        return response.status, await response.text()

                works = [asyncio.ensure_future(get("/work")) for _ in range(6)]
                await asyncio.sleep(0.02)
                _, during = await get("/readyz")  # answered while both turns are taken
                statuses = [status for status, _ in await asyncio.gather(*works)]
        finally:
            await runner.cleanup()
        return busy.most, statuses, int(during)

    most, statuses, during = asyncio.run(scenario())
    assert most == 2 and statuses == [200] * 6 and during == 2
