"""Reading the 12-digit activation code: typed in, or from the QR code the server shows."""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlparse

CODE = re.compile(r"^\d{12}$")


class ActivationCodeError(ValueError):
    pass


def code_from_text(text: str) -> str:
    """Accept the bare code (spaces and hyphens allowed, as people type it) or the QR's URI."""
    text = text.strip()
    if text.startswith("mobileoqs://"):
        parsed = urlparse(text)
        text = (parse_qs(parsed.query).get("code") or [""])[0] if parsed.netloc == "enrol" else ""
    digits = re.sub(r"[\s-]", "", text)
    if not CODE.match(digits):
        raise ActivationCodeError("アクティベーションコードは12桁の数字です。")
    return digits


def code_from_qr_image(path: Path) -> str:
    import zxingcpp
    from PIL import Image

    with Image.open(path) as image:
        results = zxingcpp.read_barcodes(image.convert("RGB"))
    for result in results:
        try:
            return code_from_text(result.text)
        except ActivationCodeError:
            continue
    raise ActivationCodeError("画像からアクティベーションコードのQRコードを読み取れませんでした。")
