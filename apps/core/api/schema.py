"""The OpenAPI schema says what the API really answers (schemathesis checks every answer against it).

- A size is bytes out (an integer) and "512M", "2G" or bytes in.
- A field whose model column is nullable is documented nullable, even when the serializer
  declares it by hand (a read-only `requested_by`, `owner` or `host` of nobody is null).
"""

from django.core.exceptions import FieldDoesNotExist
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema


class SizeFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "apps.core.api.serializers.SizeSerializerField"

    def map_serializer_field(self, auto_schema, direction):
        if direction == "request":
            return {"oneOf": [{"type": "integer", "minimum": 0}, {"type": "string", "example": "512M"}],
                    "description": "Bytes, or a size such as 512M or 2G."}
        return {"type": "integer", "format": "int64", "description": "Bytes."}


def _nullable_in_model(field):
    model = getattr(getattr(getattr(field, "parent", None), "Meta", None), "model", None)
    for attr in getattr(field, "source_attrs", None) or ():
        if model is None:
            return False
        try:
            model_field = model._meta.get_field(attr)
        except FieldDoesNotExist:
            return False
        if getattr(model_field, "null", False):
            return True
        model = model_field.related_model
    return False


class NimboAutoSchema(AutoSchema):
    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        meta = super()._map_serializer_field(field, direction, bypass_extensions)
        if isinstance(meta, dict) and "$ref" not in meta and not meta.get("nullable") and _nullable_in_model(field):
            meta = {**meta, "nullable": True}
        return meta
