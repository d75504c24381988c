"""The peers: servers users would pick instead of blockserve, each run from its own cached venv.

- `venvs`: the cached venvs and what goes into each;
- `servers`: how each peer is started, as a `benchmarks.servers.ServerSpec`;
- `mlserver_runtime`, `triton_server`: the code that runs inside each peer's venv.
"""
