"""TensorFlow ops that live in packages of their own, as TensorFlow Serving links them in.

A SavedModel that uses TF Text ops (`CaseFoldUTF8`, `WhitespaceTokenizeWithOffsets`, ...) loads
only in a process where `tensorflow_text` was imported first. Importing it costs a worker about
130 MiB, so it happens only when a load fails for want of an op: the installed op packages are
imported and the load tried once more. A model that needs an op no installed package registers
fails to load with a message naming the op and where it comes from.
"""

import importlib
import importlib.util
import re
import sys

OP_PACKAGES = (("tensorflow_text", "tensorflow-text", "blockserve[text]"),)
"""(module, PyPI package, the blockserve extra that installs it)."""

_MISSING_OP = re.compile(r"Op type not registered '([^']+)'")


def register_op_packages() -> list[str]:
    """Import the installed op packages not imported yet; the names of those it imported."""
    registered = []
    for module, _, _ in OP_PACKAGES:
        if module not in sys.modules and importlib.util.find_spec(module) is not None:
            importlib.import_module(module)
            registered.append(module)
    return registered


def missing_op(error: BaseException) -> str | None:
    """What to tell a user whose model needs an op this process lacks; None for other errors."""
    found = _MISSING_OP.search(str(error))
    if found is None:
        return None
    hints = []
    for module, package, extra in OP_PACKAGES:
        if importlib.util.find_spec(module) is None:
            hints.append(f"{package} is not installed (pip install '{extra}')")
        else:
            hints.append(f"{package} is installed but does not define it")
    return (
        f"the model uses TensorFlow op {found.group(1)!r}, which is not registered in this "
        f"server; ops of TF Text come from {'; '.join(hints)}"
    )
