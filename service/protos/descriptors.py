"""Write the installed TensorFlow protos' descriptors as a FileDescriptorSet, for the generator.

    python -m service.protos.descriptors OUT MODULE...

Imports each named `*_pb2` module (this imports TensorFlow: it runs in a process of its own,
apart from protoc), collects its file descriptor and everything it imports, writes them to OUT
and prints the names of the files protoc is to generate (all but protobuf's own).
"""

import importlib
import sys

from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import FileDescriptor


def collect(roots: list[str]) -> list[FileDescriptor]:
    """The files of `roots` and all they import, each after what it imports."""
    ordered: dict[str, FileDescriptor] = {}

    def visit(file: FileDescriptor) -> None:
        if file.name not in ordered:
            for dependency in file.dependencies:
                visit(dependency)
            ordered[file.name] = file

    for module in roots:
        visit(importlib.import_module(module).DESCRIPTOR)
    return list(ordered.values())


def main(argv: list[str]) -> int:
    out, *roots = argv
    files = collect(roots)
    descriptor_set = descriptor_pb2.FileDescriptorSet(
        file=[descriptor_pb2.FileDescriptorProto.FromString(f.serialized_pb) for f in files]
    )
    with open(out, "wb") as stream:
        stream.write(descriptor_set.SerializeToString())
    print("\n".join(f.name for f in files if not f.name.startswith("google/protobuf/")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
