"""The sandbox's test cards and the checks a card form gets (pure functions)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class Behaviour(StrEnum):
    APPROVE = "approve"
    DECLINE = "decline"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    CHALLENGE = "challenge"  # 3-D Secure
    CAPTURE_FAILS = "capture_fails"


TEST_CARDS: dict[str, Behaviour] = {
    "4111111111111111": Behaviour.APPROVE,
    "4000000000000002": Behaviour.DECLINE,
    "4000000000009995": Behaviour.INSUFFICIENT_FUNDS,
    "4000000000003220": Behaviour.CHALLENGE,
    "4000000000000341": Behaviour.CAPTURE_FAILS,
}

MESSAGES = {
    Behaviour.DECLINE: "Card declined by the issuer",
    Behaviour.INSUFFICIENT_FUNDS: "Insufficient funds",
}


def behaviour(number: str) -> Behaviour:
    """Any Luhn-valid number that is not a listed test card is approved."""
    return TEST_CARDS.get(number, Behaviour.APPROVE)


def luhn_valid(number: str) -> bool:
    if re.fullmatch(r"[0-9]+", number) is None:
        return False
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def mask(number: str) -> str:
    return f"{number[:6]}******{number[-4:]}"


@dataclass(frozen=True)
class CardForm:
    number: str
    expiry: str
    cvc: str
    holder: str

    @property
    def digits(self) -> str:
        return re.sub(r"[\s-]", "", self.number)


_EXPIRY = re.compile(r"^\s*([0-9]{1,2})\s*/\s*([0-9]{2}|[0-9]{4})\s*$")


def check(form: CardForm, today: date) -> dict[str, str]:
    """Field -> message for everything wrong with the form; empty when it may be sent to the issuer."""
    errors: dict[str, str] = {}
    digits = form.digits
    if not digits:
        errors["number"] = "card_number_required"
    elif re.fullmatch(r"[0-9]{12,19}", digits) is None or not luhn_valid(digits):
        errors["number"] = "card_number_invalid"
    match = _EXPIRY.match(form.expiry)
    if match is None:
        errors["expiry"] = "expiry_invalid"
    else:
        month, year = int(match.group(1)), int(match.group(2))
        year += 2000 if year < 100 else 0
        if not 1 <= month <= 12:
            errors["expiry"] = "expiry_invalid"
        elif (year, month) < (today.year, today.month):
            errors["expiry"] = "expiry_past"
    if not re.fullmatch(r"[0-9]{3}", form.cvc.strip()):
        errors["cvc"] = "cvc_invalid"
    if not form.holder.strip():
        errors["holder"] = "holder_required"
    return errors
