"""The web console: one read-only page of every served model, built on the server's public API."""

from service.front.console.routes import console_routes

__all__ = ["console_routes"]
