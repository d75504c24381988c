"""What a failed load attempt means: try again later, give up, or quarantine the version.

The words here are what GetModelStatus, REST status and the V2 repository index show, so a user
reading any of them learns what failed, how often, and what happens next.
"""

from dataclasses import dataclass
from pathlib import Path

from service.shared.errors import ServingError, WorkerDied

QUARANTINE_CODE = "ABORTED"
"""The status code of a version not tried again because its load killed a worker."""


@dataclass(frozen=True)
class FailedAttempt:
    """One attempt to load a version that raised `error`: attempt `number` of `allowed`."""

    path: Path
    number: int
    allowed: int
    error: Exception
    ran_alone: bool
    """No other load ran during it, so a worker that died during it died of this version."""

    @property
    def code(self) -> str:
        if self.quarantine:
            return QUARANTINE_CODE
        return self.error.code if isinstance(self.error, ServingError) else "UNKNOWN"

    @property
    def quarantine(self) -> bool:
        """The version killed a worker: trying again would kill one again."""
        error = self.error
        return isinstance(error, WorkerDied) and self.ran_alone and not error.during_request

    @property
    def suspect(self) -> bool:
        """A worker died while other versions loaded too, or while it ran a request: which one
        killed it is unknown."""
        return isinstance(self.error, WorkerDied) and not self.quarantine

    @property
    def retry(self) -> bool:
        return not self.quarantine and self.number < self.allowed

    def retrying_message(self, interval: float) -> str:
        alone = ", with no other load beside it" if self.suspect else ""
        return (
            f"attempt {self.number} of {self.allowed} to load {self.path} failed: "
            f"{self.error}; next attempt in {interval:g} s{alone}"
        )

    def final_message(self) -> str:
        if self.quarantine:
            assert isinstance(self.error, WorkerDied)
            return (
                f"quarantined: the TensorFlow worker {self.error.how} while loading {self.path}; "
                "it is not tried again until its files change or the model config is reloaded"
            )
        return f"failed to load {self.path}{_tries(self.number)}: {self.error}"

    def given_up_message(self, why: str) -> str:
        """The version stopped being retried for a reason other than its own errors."""
        return f"failed to load {self.path}{_tries(self.number)}, not retried: {why}: {self.error}"


def _tries(count: int) -> str:
    return f" (tried {count} times)" if count > 1 else ""
