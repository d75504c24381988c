"""Config files as both processes read them: one error type, text-format protos named on failure."""

from pathlib import Path

from google.protobuf import text_format
from google.protobuf.message import Message


class ConfigError(Exception):
    """A flag or config file that does not make sense; the server refuses to start."""


def read_text_proto(path: str, message: Message, what: str) -> Message:
    """Parse a text-format protobuf file, naming the file and the problem when it fails."""
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise ConfigError(f"cannot read {what} {path}: {e.strerror}") from e
    try:
        return text_format.Parse(text, message)
    except text_format.ParseError as e:
        raise ConfigError(f"{what} {path} does not parse: {e}") from e
