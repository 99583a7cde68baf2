"""Registered devices: create (admin), enrol with the activation code, list, revoke."""
from typing import Any

from ...services import devices
from ...web.activation_qr import activation_uri
from ...web.qr import qr_svg
from .. import examples as ex
from ..core import Blueprint, principal, public_url, runtime
from .schemas import DeviceCreateSchema, DeviceSchema, EnrolledSchema, EnrolSchema, NewDeviceSchema

blp = Blueprint("devices", __name__, url_prefix="/api/v1/devices", description="登録端末")


@blp.post("")
@blp.authenticated(admin=True)
@blp.arguments(DeviceCreateSchema, example=ex.DEVICE_CREATE_REQUEST)
@blp.response(201, NewDeviceSchema, example=ex.NEW_DEVICE)
@blp.problems(422)
def create(body: dict[str, Any]) -> Any:
    """Create a device and its single-use 12-digit activation code (valid 24 hours)."""
    new = devices.create_device(runtime(), principal(), body["label"])
    uri = activation_uri(new.activation_code, public_url(""))
    return {"device": new.device, "activation_code": new.activation_code, "activation_uri": uri,
            "activation_qr_svg": qr_svg(uri)}


@blp.get("")
@blp.authenticated(admin=True)
@blp.response(200, DeviceSchema(many=True))
def list_devices() -> Any:
    """The institution's devices."""
    return devices.list_devices(runtime(), principal())


@blp.post("/enrol")
@blp.arguments(EnrolSchema, examples=ex.ENROL_REQUEST)
@blp.response(201, EnrolledSchema, example=ex.ENROLLED)
@blp.problems(401, 409, 422)
def enrol(body: dict[str, Any]) -> Any:
    """Register the device's own public key with the activation code (single use)."""
    enrolled = devices.enrol_device(runtime(), **body)
    return {"device_id": enrolled.device.id, "institution_code": enrolled.institution.code,
            "institution_name": enrolled.institution.name}


@blp.post("/<device_id>/revoke")
@blp.authenticated(admin=True)
@blp.response(200, DeviceSchema)
@blp.problems(404, 409)
def revoke(device_id: str) -> Any:
    """Revoke a lost device: refused from its very next request."""
    return devices.revoke_device(runtime(), principal(), device_id)
