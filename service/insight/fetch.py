"""What the adapters ask of the front for live insight: one async function, injected."""

from collections.abc import Awaitable, Callable

from google.protobuf.message import Message

ACTIVATIONS = "activations"
DRIFT = "drift"

Fetch = Callable[[str, str, int | None, str | None], Awaitable[Message]]
"""fetch(kind, model, version, label) -> the merged ActivationSummary (kind "activations") or
InputDrift (kind "drift") of the version asked for: `version` or `label` when given, else the
latest available. Raises the core's errors (NotFound, FailedPrecondition...)."""
