import pytest

from sync_daemon.core.errors import UnmappableOrder
from sync_daemon.core.phones import normalise_bd_mobile


@pytest.mark.parametrize(
    "typed",
    ["01712345678", "+8801712345678", "8801712345678", "008801712345678", "01712-345678", "017 1234 5678",
     "+880 1712-345678", "(017) 1234-5678", "1712345678", "০১৭১২৩৪৫৬৭৮", " 01712345678\n"],
)
def test_every_typed_form_becomes_the_same_local_number(typed):
    assert normalise_bd_mobile(typed) == "01712345678"


def test_e164_and_as_typed_formats():
    assert normalise_bd_mobile("01512-345678", "e164") == "+8801512345678"
    assert normalise_bd_mobile(" 01512-345678 ", "as_typed") == "01512-345678"


@pytest.mark.parametrize(
    ("typed", "reason"),
    [("", "no customer phone"), ("   ", "no customer phone"), ("0171234567", "not a Bangladeshi mobile"),
     ("01212345678", "not a Bangladeshi mobile"), ("+44 20 7946 0958", "not a Bangladeshi mobile"),
     ("call me", "not digits"), ("017123456789", "not a Bangladeshi mobile")],
)
def test_implausible_numbers_are_rejected_with_a_reason(typed, reason):
    with pytest.raises(UnmappableOrder, match=reason):
        normalise_bd_mobile(typed)
