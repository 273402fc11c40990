from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.validators import UniqueValidator

from apps.core.fields import SizeField, format_size, parse_size


class SizeSerializerField(serializers.Field):
    """Bytes out; "512M", "2G" or bytes in."""

    default_error_messages = {"invalid": "Enter a size such as 512M, 2G or a number of bytes."}

    def __init__(self, *, max_value=None, min_value=None, **kwargs):
        # Bounds come from the model field's validators, which run on the parsed value.
        super().__init__(**kwargs)

    def to_representation(self, value):
        return value

    def to_internal_value(self, data):
        try:
            value = parse_size(data)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages[0]) from exc
        if value is None:
            self.fail("invalid")
        return value


class NimboModelSerializer(serializers.ModelSerializer):
    """Model serializer for Nimbo resources: uuid identity, sizes as "512M"-friendly fields.

    Validation that involves several fields or the database lives in the model's clean() and
    runs in the service (full_clean), so the admin, the wizards and the API say the same thing.
    """

    serializer_field_mapping = {**serializers.ModelSerializer.serializer_field_mapping, SizeField: SizeSerializerField}

    # Uniqueness is the model's to check (full_clean in the service) and the database's to
    # guarantee: it then answers 409 with the model's own message, as the admin shows it.
    def get_validators(self):
        return []

    def build_standard_field(self, field_name, model_field):
        field_class, kwargs = super().build_standard_field(field_name, model_field)
        validators = [v for v in kwargs.get("validators", []) if not isinstance(v, UniqueValidator)]
        if "validators" in kwargs:
            kwargs["validators"] = validators
        return field_class, kwargs


__all__ = ["NimboModelSerializer", "SizeSerializerField", "format_size"]
from apps.core.api import schema as _schema  # noqa: E402,F401 - registers the size field's OpenAPI form
