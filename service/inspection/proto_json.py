"""The proto3 JSON form of inspection messages, as the REST API and the CLI print them."""

from google.protobuf import json_format, message


def to_json(proto: message.Message, indent: int | None = 2) -> str:
    """Proto3 JSON with the .proto's field names (snake_case) and every field present.

    Proto3 JSON leaves out fields holding their default value unless told otherwise: a model
    without constants would lack "constant_parameters", a scalar's "shape" would vanish, an
    exact 0 statistic would read as missing. Clients should not have to know that. int64
    fields are strings, as proto3 JSON writes them; NaN and infinity are "NaN", "Infinity".
    """
    return json_format.MessageToJson(
        proto,
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
        indent=indent,
    )
