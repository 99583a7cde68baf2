import pytest
import qrcode

from device_agent.enrolment import ActivationCodeError, code_from_qr_image, code_from_text
from mobile_api.web.activation_qr import activation_uri


@pytest.mark.parametrize("typed", ["123456789012", "1234 5678 9012", "1234-5678-9012", " 123456789012\n"])
def test_typed_codes(typed):
    assert code_from_text(typed) == "123456789012"


@pytest.mark.parametrize("bad", ["12345678901", "1234567890123", "abcdefghijkl", "mobileoqs://other?code=123456789012"])
def test_bad_codes_refused(bad):
    with pytest.raises(ActivationCodeError):
        code_from_text(bad)


def test_the_servers_qr_uri_is_understood():
    assert code_from_text(activation_uri("987654321098")) == "987654321098"


def test_qr_code_decoded_from_an_image(tmp_path):
    path = tmp_path / "activation.png"
    qrcode.make(activation_uri("555566667777")).save(path)
    assert code_from_qr_image(path) == "555566667777"


def test_image_without_our_qr_refused(tmp_path):
    path = tmp_path / "other.png"
    qrcode.make("https://example.com/not-an-activation").save(path)
    with pytest.raises(ActivationCodeError):
        code_from_qr_image(path)
