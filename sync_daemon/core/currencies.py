"""ISO 4217 minor units: how many decimals a currency's smallest unit has.

OrderRepo wants totals as integers in minor units, so 1 234.50 BDT is 123450, 1500 JPY is
1500 and 12.345 KWD is 12345. Amounts are scaled as Decimal and rounded half-up to a whole
minor unit (WooCommerce stores at most the shop's decimals, so rounding only touches data that
already had more precision than the currency allows).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from sync_daemon.core.errors import UnmappableOrder

# Currencies whose exponent is not 2 (ISO 4217, current list).
_EXPONENTS = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0, "RWF": 0,
    "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    "CLF": 4, "UYW": 4,
}  # fmt: skip

# Active ISO 4217 codes with exponent 2.
_TWO_DECIMAL_CODES = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN BZD CAD CDF "
    "CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD "
    "HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT "
    "MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR "
    "SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU "
    "UZS VES VED WST XCD XCG YER ZAR ZMW ZWG"
)
_TWO_DECIMALS = frozenset(_TWO_DECIMAL_CODES.split())


def minor_unit_exponent(currency: str) -> int:
    """The number of decimals of a currency; UnmappableOrder for an unknown code."""
    code = currency.upper()
    if code in _EXPONENTS:
        return _EXPONENTS[code]
    if code in _TWO_DECIMALS:
        return 2
    raise UnmappableOrder(f"currency {currency!r} is not an ISO 4217 code known here; its minor units are unknown")


def to_minor_units(amount: Decimal, currency: str) -> int:
    """An amount as an integer count of the currency's minor units, rounded half-up."""
    scaled = amount * (Decimal(10) ** minor_unit_exponent(currency))
    return int(scaled.quantize(Decimal(1), rounding=ROUND_HALF_UP))
