"""What the device agent shows for an error (device_agent/messages.explain): the first kind that matches wins,
so a kind listed after its base class would never show its own wording."""
from __future__ import annotations

import pytest

from device_agent import messages
from device_agent.card.transport import CardError, CardRemovedError, ReaderNotFoundError, ReaderServiceError
from device_agent.client import ApiProblem, LoginRejected, SessionExpired


def test_no_error_kind_is_listed_after_its_base_class() -> None:
    seen: list[type[BaseException]] = []
    for kinds, _ in messages._EXPLAINERS:
        for kind in kinds if isinstance(kinds, tuple) else (kinds,):
            bases = [base.__name__ for base in seen if issubclass(kind, base)]
            assert not bases, f"{kind.__name__} comes after {bases}: its own wording would never be shown"
            seen.append(kind)


@pytest.mark.parametrize(("error", "heading", "text"), [
    (CardRemovedError("gone"), messages.FAILED, messages.CARD_REMOVED),
    (ReaderServiceError("no pcscd"), "カードリーダーを使えません", messages.READER_SERVICE),
    (ReaderNotFoundError("none"), "カードリーダーが見つかりません", messages.NO_READER),
    (CardError("?"), messages.FAILED, "カードを読み取れませんでした。もう一度かざしてください。"),
    (LoginRejected(401, {"detail": "パスワードが違います"}), "ログインできませんでした", messages.LOGIN_REJECTED),
    (SessionExpired(), messages.SIGN_IN_AGAIN, messages.SESSION_EXPIRED),
])
def test_an_error_is_explained_by_its_most_specific_kind(error: BaseException, heading: str, text: str) -> None:
    explained = messages.explain(error)
    assert (explained.heading, explained.text) == (heading, text)


def test_a_refusal_by_design_says_so_and_an_expired_token_asks_to_sign_in_again() -> None:
    by_design = messages.explain(ApiProblem(403, {"type": "/problems/form-not-allowed", "detail": "x"}))
    assert by_design.by_design and by_design.heading == messages.NOT_POSSIBLE
    expired = messages.explain(ApiProblem(401, {"type": "/problems/token-expired"}))
    assert (expired.heading, expired.text, expired.by_design) == (messages.SIGN_IN_AGAIN, messages.SESSION_EXPIRED,
                                                                  False)


def test_anything_else_is_unexpected_and_says_how_to_report_it() -> None:
    explained = messages.explain(ValueError("boom"))
    assert explained.heading == messages.FAILED and "--debug" in explained.text and "boom" not in explained.text
