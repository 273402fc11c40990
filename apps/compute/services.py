"""Operations on instance offerings (VM operations join here)."""

from apps.core.jobs import operation
from apps.core.services import create_object, delete_object, update_object

from .models import InstanceOffering


@operation("createInstanceOffering")
def create_instance_offering(**fields):
    return create_object(InstanceOffering, fields)


@operation("updateInstanceOffering", target="offering")
def update_instance_offering(offering, **fields):
    return update_object(offering, fields)


@operation("deleteInstanceOffering", target="offering")
def delete_instance_offering(offering):
    delete_object(offering)
