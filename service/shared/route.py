"""A model's entry in the routing table the front pushes to every worker."""

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelRoute:
    """A model's served versions and labels, as the front's repository has them."""

    versions: tuple[int, ...]
    labels: dict[str, int]
