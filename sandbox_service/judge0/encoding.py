"""How Judge0 (a Rails application) writes and reads values, reproduced where clients can tell the difference.

- Base64 is Ruby's `Base64.encode64`: lines of 60 characters, each ending with a newline; decoding is Ruby's
  lenient `Base64.decode64`, which skips anything outside the alphabet and stops at padding (Judge0 never answers
  "invalid base64": it runs whatever the garbage decodes to).
- Decimal columns (`time`, `wall_time`, `cpu_time_limit`, ...) are JSON strings in BigDecimal's notation: "0.012",
  "5.0".
- Times are ActiveSupport's: UTC, milliseconds, "Z" ("2024-01-31T12:34:56.789Z").
- Integers from strings are Ruby's `to_i`: leading digits, else 0.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_RUBY_INTEGER = re.compile(r"\s*([+-]?\d[\d_]*)")


def ruby_base64_encode(data: bytes) -> str:
    """`Base64.encode64`: 45 input bytes per line of 60 characters, every line ending with "\\n"; b"" is ""."""
    return "".join(base64.b64encode(data[i:i + 45]).decode("ascii") + "\n" for i in range(0, len(data), 45))


def ruby_base64_decode(text: str) -> bytes:
    """`Base64.decode64`: characters outside the alphabet are skipped, "=" ends the data, a last partial group
    of 2 or 3 characters still gives 1 or 2 bytes (a lone character gives nothing)."""
    chars: list[str] = []
    for char in text:
        if char == "=":
            break
        if char in _ALPHABET:
            chars.append(char)
    whole = len(chars) - len(chars) % 4
    data = base64.b64decode("".join(chars[:whole]))
    rest = chars[whole:]
    if len(rest) >= 2:
        try:
            data += base64.b64decode("".join(rest) + "=" * (4 - len(rest)))
        except binascii.Error:  # pragma: no cover - 2 or 3 alphabet characters always decode
            pass
    return data


def decimal_string(value: float | int | Decimal | str | None, places: int | None = None) -> str | None:
    """BigDecimal#to_s as Rails writes it: "5.0", "0.012", "2.5" (never an exponent). None stays None.

    `places` rounds first (a measured time is reported to the millisecond, as isolate's meta file does)."""
    if value is None:
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    if places is not None:
        number = round(number, places)
    text = format(number.normalize(), "f")
    if "." not in text:
        text += ".0"
    return text


def timestamp(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def ruby_to_i(value: object) -> int | None:
    """Ruby's `to_i` of a request value as Rails casts it to an integer column: None for None and "", the leading
    integer of a string (or 0), floats truncated, true/false as 1/0."""
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value == value and value not in (float("inf"), float("-inf")) else 0
    if isinstance(value, str):
        if not value.strip():
            return None
        match = _RUBY_INTEGER.match(value)
        return int(match.group(1).replace("_", "")) if match else 0
    return None
