"""tf.Example inputs of Classify, Regress and MultiInference, serialized as signatures take them."""

from service.protos.tensorflow_serving.apis import input_pb2
from service.shared.errors import InvalidArgument

__all__ = ["serialized_examples"]


def serialized_examples(request_input: input_pb2.Input) -> list[bytes]:
    """tf.Examples as the signature takes them; context features join every example."""
    kind = request_input.WhichOneof("kind")
    if kind == "example_list":
        return [e.SerializeToString() for e in request_input.example_list.examples]
    if kind == "example_list_with_context":
        listed = request_input.example_list_with_context
        merged = []
        for example in listed.examples:
            combined = type(example)()
            combined.CopyFrom(listed.context)
            combined.MergeFrom(example)
            merged.append(combined.SerializeToString())
        return merged
    raise InvalidArgument(
        "the request's input holds neither example_list nor example_list_with_context"
    )
