"""Which loaded version a request names, as a worker resolves it: the front's routing table.

The front's repository decides which versions serve and which labels point where; it pushes
each model's entry to every worker over the ordered channel, so a worker resolves a request
with the table as it stood when the request was sent. A miss is not answered here: the front
knows why (loading, unknown model, bad label) and says it in TensorFlow Serving's words.
"""

from typing import Any

from service.shared.route import ModelRoute
from service.shared.types import ModelQuery


class RoutingTable:
    """Model name -> its route, and the loaded runtimes the routes point into."""

    def __init__(self, loaded: dict[tuple[str, int], Any]) -> None:
        self._loaded = loaded
        self._routes: dict[str, ModelRoute] = {}

    def update(self, name: str, route: ModelRoute | None) -> None:
        if route is None:
            self._routes.pop(name, None)
        else:
            self._routes[name] = route

    def knows(self, name: str) -> bool:
        return name in self._routes

    def drop_version(self, name: str, version: int) -> None:
        """An unload: no request that comes after it may resolve to the version."""
        route = self._routes.get(name)
        if route is not None and version in route.versions:
            versions = tuple(v for v in route.versions if v != version)
            self._routes[name] = ModelRoute(versions, route.labels)

    def resolve(self, query: ModelQuery) -> Any | None:
        """The runtime the query names, or None where the front must say why not."""
        route = self._routes.get(query.name)
        if route is None:
            return None
        version = query.version
        if query.label is not None:
            version = route.labels.get(query.label)
            if version is None:
                return None
        if version is None:
            if not route.versions:
                return None
            version = route.versions[-1]
        elif version not in route.versions:
            return None
        return self._loaded.get((query.name, version))
