"""Who is calling: resolved from the access token AND the database on every request,
so that revoking a user or a device takes effect on the very next request."""
from __future__ import annotations

from dataclasses import dataclass

from ..adapters.ledger import CallerStanding
from ..adapters.repository import UnitOfWork
from ..domain.codes import Role
from ..domain.errors import Forbidden, InvalidScope, Unauthenticated
from ..domain.facility import InstitutionFacts
from ..runtime import Runtime


@dataclass(frozen=True)
class Principal:
    institution_id: str
    user_id: str | None
    role: Role | None
    device_id: str | None
    # A machine client (OAuth 2.0 client credentials): no person, no device; only its scopes.
    client_id: str | None = None
    scopes: frozenset[str] = frozenset()
    # The institution's code and kind, when authentication read them with the caller (``institution_of``).
    institution: InstitutionFacts | None = None

    @property
    def is_client(self) -> bool:
        return self.client_id is not None

    def require_not_client(self) -> None:
        """Staff, device, admin, visit and medical-information endpoints are for people and devices:
        a machine client's token is refused there, whatever its scopes (docs/rules.md)."""
        if self.is_client:
            raise InvalidScope("クライアントのアクセストークンではこの操作はできません。", rule="machine-client")

    def require_scope(self, scope: str) -> None:
        """Only a machine client holding ``scope`` (e.g. ``qualification:check``)."""
        if not self.is_client:
            raise InvalidScope("この操作にはクライアントのアクセストークン（client credentials）が必要です。",
                               rule="client-only", scope=scope)
        if scope not in self.scopes:
            raise InvalidScope(f"このクライアントには {scope} の権限がありません。", rule="scope", scope=scope)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Forbidden("この操作は管理者のみ行えます。")

    def require_patient_data_reader(self) -> None:
        """Patient data (names, addresses, dates of birth, insurer numbers) is read only by an admin,
        or by a staff member signed in on a registered device; never by a device-only token, which
        has no person behind it (docs/rules.md)."""
        if self.user_id is None or not (self.is_admin or self.device_id is not None):
            raise Forbidden(
                "患者情報の閲覧には、登録済み端末でのスタッフのログイン（または管理者のログイン）が必要です。",
                rule="patient-data-reader",
            )

    def require_staff_on_device(self, doing: str = "資格確認") -> None:
        """``doing`` names the act in the refusal (資格確認, 医療情報の閲覧, …): a person refused a medical
        view must not read that qualification confirmation was refused."""
        if self.user_id is None or self.device_id is None:
            raise Forbidden(
                f"{doing}には、登録済み端末でのスタッフのログインが必要です。",
                rule="staff-and-device",
            )


def authenticate(rt: Runtime, bearer: str) -> Principal:
    claims = rt.tokens.decode_access(bearer)
    if claims.kind == "client":
        return _authenticate_client(rt, claims.subject, claims.institution_id, claims.scopes)
    staff = claims.kind == "staff"
    return resolve(rt, institution_id=claims.institution_id, user_id=claims.subject if staff else None,
                   device_id=claims.device_id if staff else claims.subject)


def resolve(rt: Runtime, *, institution_id: str, user_id: str | None, device_id: str | None) -> Principal:
    """A staff member and/or a device of ``institution_id``, re-read now: refused if either was revoked (or
    the device never enrolled, or either is another institution's). Used for an access token and for a
    console session alike."""
    with rt.ledger() as ledger:
        # One Core statement for both rows, outside a transaction (docs/performance.md): this runs before every
        # authenticated request.
        standing = ledger.caller(user_id, device_id)
    role = None if user_id is None else _role_standing(standing, institution_id)
    if device_id is not None and not _device_stands(standing, institution_id):
        raise Unauthenticated("この端末は登録が取り消されています。管理者に連絡してください。", rule="device-revoked")
    return Principal(institution_id=institution_id, user_id=user_id, role=role, device_id=device_id,
                     institution=standing.institution)


def _role_standing(standing: CallerStanding, institution_id: str) -> Role:
    """The staff member's role, if they exist, are not revoked and belong to the institution the token names."""
    if (not standing.user_found or standing.user_role is None or standing.user_revoked_at is not None
            or standing.user_institution_id != institution_id):
        raise Unauthenticated("このアカウントは利用停止されています。", rule="user-revoked")
    return Role(standing.user_role)


def _device_stands(standing: CallerStanding, institution_id: str) -> bool:
    """The device exists, finished enrolment, is not revoked and belongs to the institution the token names."""
    return (standing.device_found and standing.device_revoked_at is None
            and standing.device_enrolled_at is not None and standing.device_institution_id == institution_id)


def institution_of(uow: UnitOfWork, actor: Principal) -> InstitutionFacts:
    """The caller's institution's code and kind: as authentication read them in this request, or read now
    (a principal made elsewhere: the console's session, the CLI)."""
    if actor.institution is not None:
        return actor.institution
    facts = uow.institutions.facts(actor.institution_id)
    assert facts is not None  # every principal's institution exists: users and devices reference it
    return facts


def _authenticate_client(rt: Runtime, client_id: str, institution_id: str, scopes: frozenset[str]) -> Principal:
    """A machine client's token: the client row is re-read, so a revocation takes effect on the next
    request; the scopes are those granted when the token was issued, narrowed to what the client
    still holds."""
    with rt.uow() as uow:
        client = uow.api_clients.get(client_id)
        if client is None or client.revoked_at is not None or client.institution_id != institution_id:
            raise Unauthenticated("このクライアントは利用停止されています。", rule="client-revoked")
        return Principal(institution_id=institution_id, user_id=None, role=None, device_id=None,
                         client_id=client.id, scopes=scopes & frozenset(client.scopes))
