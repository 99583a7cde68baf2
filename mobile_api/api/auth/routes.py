"""Staff login, refresh-token rotation, logout and device tokens."""
from typing import Any

from flask import request

from ...services import devices, identity
from .. import examples as ex
from ..core import Blueprint, runtime
from .schemas import DeviceTokenRequestSchema, DeviceTokenSchema, LoginSchema, RefreshSchema, TokenPairSchema

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="ログインとトークン")


@blp.post("/login")
@blp.arguments(LoginSchema, examples=ex.LOGIN_REQUEST)
@blp.response(200, TokenPairSchema, example=ex.TOKEN_PAIR)
@blp.problems(401, 422, 429)
def login(body: dict[str, Any]) -> Any:
    """Sign a staff member in (on an enrolled device when a device assertion is given).

    Guessing is stopped twice (docs/rules.md, "Sign-in lock-out"): too many attempts from one address answer
    429 with ``Retry-After`` before any password is checked, and too many wrong passwords lock the account
    (401 ``sign-in-locked``) for every way in: this login, the console and, for clients, the token endpoint.
    """
    return identity.login(runtime(), **body, source=request.remote_addr)


@blp.post("/refresh")
@blp.arguments(RefreshSchema, examples=ex.REFRESH_REQUEST)
@blp.response(200, TokenPairSchema, example=ex.REFRESHED_PAIR)
@blp.problems(401, 422)
def refresh(body: dict[str, Any]) -> Any:
    """Rotate the refresh token: each works once; reusing a spent one revokes the chain."""
    return identity.refresh(runtime(), body["refresh_token"])


@blp.post("/logout")
@blp.arguments(RefreshSchema)
@blp.response(204)
@blp.problems(422)
def logout(body: dict[str, Any]) -> None:
    """Revoke the refresh token's chain."""
    identity.logout(runtime(), body["refresh_token"])


@blp.post("/device-token")
@blp.arguments(DeviceTokenRequestSchema, examples=ex.DEVICE_TOKEN_REQUEST)
@blp.response(200, DeviceTokenSchema, example=ex.DEVICE_TOKEN)
@blp.problems(401, 422)
def device_token(body: dict[str, Any]) -> Any:
    """A device-only token from a signed device assertion (no staff identity)."""
    token, expires, device = devices.device_token(runtime(), body["assertion"])
    return {"access_token": token, "access_expires_at": expires, "device_id": device.id}
