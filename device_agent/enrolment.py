"""Reading the 12-digit activation code: typed in, or from the QR code the server shows."""
from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

CODE = re.compile(r"^\d{12}$")


class ActivationCodeError(ValueError):
    pass


def code_from_text(text: str) -> str:
    """Accept the bare code (spaces and hyphens allowed, as people type it) or the QR's URI."""
    return activation_from_text(text)[0]


def activation_from_text(text: str) -> tuple[str, str | None]:
    """The code, and the server's URL when the QR's URI carries it (the console puts its public URL there)."""
    text, server = text.strip(), None
    if text.startswith("mobileoqs://"):
        parsed = urlparse(text)
        query = parse_qs(parsed.query) if parsed.netloc == "enrol" else {}
        text, servers = (query.get("code") or [""])[0], query.get("server")
        server = servers[0] if servers else None
    return _digits(text), server


def _digits(text: str) -> str:
    digits = re.sub(r"[\s-]", "", text)
    if not CODE.match(digits):
        raise ActivationCodeError("アクティベーションコードは12桁の数字です。")
    return digits


FORMATS = "PNG・JPEG の画像、またはサーバーの管理画面が表示する SVG"


def code_from_qr_image(path: Path) -> str:
    return activation_from_qr_image(path)[0]


def activation_from_qr_image(path: Path) -> tuple[str, str | None]:
    """The code (and the server's URL, when given) from a QR image: PNG/JPEG (a photo or screenshot), or the SVG
    the server's API returns."""
    import zxingcpp
    from PIL import Image, UnidentifiedImageError

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ActivationCodeError(f"QRコードの画像ファイル「{path}」が見つかりません。") from None
    except OSError:
        raise ActivationCodeError(f"QRコードの画像ファイル「{path}」を読み込めません。") from None
    try:
        if data[:512].lstrip().startswith(b"<") or path.suffix.lower() == ".svg":
            image = _raster_from_svg(data.decode("utf-8", errors="replace"))
        else:
            with Image.open(io.BytesIO(data)) as opened:
                image = opened.convert("RGB")
    except (UnidentifiedImageError, ValueError, SyntaxError):
        raise ActivationCodeError(f"「{path.name}」はQRコードの画像として読み込めません。{FORMATS}を指定してください。"
                                  ) from None
    results = zxingcpp.read_barcodes(image)
    for result in results:
        try:
            return activation_from_text(result.text)
        except ActivationCodeError:
            continue
    raise ActivationCodeError("画像からアクティベーションコードのQRコードを読み取れませんでした。")


_RECT_PATH = re.compile(r"M\s*([\d.]+)[ ,]([\d.]+)\s*H\s*([\d.]+)\s*V\s*([\d.]+)\s*H\s*([\d.]+)\s*[zZ]")


def _number(text: str) -> float:
    found = re.match(r"\s*([\d.]+)", text)  # "4mm" → 4.0: qrcode writes every length in one unit
    if not found:
        raise ValueError(f"not a length: {text!r}")
    return float(found[1])


def _raster_from_svg(text: str) -> Any:
    """Draw the squares of a QR SVG (qrcode's path or rect images) into a bitmap zxing can read.

    No SVG renderer is needed: a QR code is only axis-aligned squares. Anything else is refused
    with a ValueError, and the caller says which formats work."""
    import xml.etree.ElementTree as ET

    from PIL import Image, ImageDraw

    root = ET.fromstring(text)  # noqa: S314 - a local file the user chose; no entities are resolved
    squares: list[tuple[float, float, float, float]] = []
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag == "path":
            for m in _RECT_PATH.finditer(element.get("d", "")):
                x, y, x2, y2 = float(m[1]), float(m[2]), float(m[3]), float(m[4])
                squares.append((min(x, x2), min(y, y2), max(x, x2), max(y, y2)))
        elif tag == "rect" and element.get("fill", "#000000").lower() not in ("white", "#fff", "#ffffff", "none"):
            if "%" in element.get("width", ""):
                continue  # a background
            x, y, w, h = (_number(element.get(name, "0")) for name in ("x", "y", "width", "height"))
            if w and h:
                squares.append((x, y, x + w, y + h))
    if not squares:
        raise ValueError("no QR squares in the SVG")
    right = max(s[2] for s in squares) + min(s[0] for s in squares)
    bottom = max(s[3] for s in squares) + min(s[1] for s in squares)
    unit = min(s[2] - s[0] for s in squares)
    scale = max(1.0, 8 / unit)
    image = Image.new("L", (int(right * scale) + 1, int(bottom * scale) + 1), 255)
    draw = ImageDraw.Draw(image)
    for x, y, x2, y2 in squares:
        draw.rectangle((x * scale, y * scale, x2 * scale - 1, y2 * scale - 1), fill=0)
    return image.convert("RGB")
