"""Building blocks for service functions: validated create, update and delete of one row."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import capfirst


def _split_m2m(model, fields):
    m2m = {k: fields.pop(k) for k in list(fields) if model._meta.get_field(k).many_to_many}
    return fields, m2m


def create_object(model, fields):
    """Create a row after the model's full validation (the same rules in admin, wizard and API).

    A row that belongs to a project is charged to its quotas in the same transaction.
    """
    from apps.projects.quotas import charge

    fields, m2m = _split_m2m(model, dict(fields))
    with transaction.atomic():
        charge(fields.get("project"), model, fields)
        obj = model(**fields)
        obj.full_clean()
        obj.save()
        for name, values in m2m.items():
            getattr(obj, name).set(values)
    return obj


def update_object(obj, fields, frozen=()):
    """Update a row; fields in `frozen` cannot change once set (e.g. a cluster's zone)."""
    fields, m2m = _split_m2m(type(obj), dict(fields))
    for name in frozen:
        if name in fields and _value(fields[name]) != _value(getattr(obj, name)):
            raise ValidationError({name: f"{capfirst(obj._meta.get_field(name).verbose_name)} cannot be changed."})
    for name, value in fields.items():
        setattr(obj, name, value)
    obj.full_clean()
    obj.save()
    for name, values in m2m.items():
        getattr(obj, name).set(values)
    return obj


def _value(v):
    return getattr(v, "pk", v)


def delete_object(obj):
    """Delete a row; ProtectedError (still in use) propagates and becomes a 409."""
    obj.delete()
