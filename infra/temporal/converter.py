"""msgspec for every Temporal payload: Structs, datetimes and enums in, typed values out.

History stays plain JSON (encoding ``json/plain``), so Temporal's UI and CLI read it.
"""

from __future__ import annotations

from typing import Any

import msgspec
from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultPayloadConverter,
    EncodingPayloadConverter,
    JSONPlainPayloadConverter,
)

_encoder = msgspec.json.Encoder()


class MsgspecJSONPayloadConverter(EncodingPayloadConverter):
    @property
    def encoding(self) -> str:
        return "json/plain"

    def to_payload(self, value: Any) -> Payload | None:
        return Payload(metadata={"encoding": b"json/plain"}, data=_encoder.encode(value))

    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        hint = Any if type_hint is None else type_hint
        return msgspec.json.decode(payload.data, type=hint)


class MsgspecPayloadConverter(CompositePayloadConverter):
    def __init__(self) -> None:
        converters = [
            MsgspecJSONPayloadConverter()
            if isinstance(c, JSONPlainPayloadConverter)
            else c
            for c in DefaultPayloadConverter.default_encoding_payload_converters
        ]
        super().__init__(*converters)


DATA_CONVERTER = DataConverter(payload_converter_class=MsgspecPayloadConverter)
