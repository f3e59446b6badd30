"""CRC-32C (Castagnoli), the checksum dagd records for every object it
keeps in a store (``ObjectRef.crc32c``) and checks when one is read back.

Uses the ``crc32c`` package when it is installed (Debian's python3-crc32c,
or ``pip install crc32c`` into a Lambda function's package: hundreds of
MB/s); otherwise a table-driven loop in Python, a few MB/s, which is right
but slow for large objects.
"""

from __future__ import annotations

from typing import Any

_POLY = 0x82F63B78  # Castagnoli, reflected


def _table() -> list:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ (_POLY if crc & 1 else 0)
        table.append(crc)
    return table


_TABLE = _table()


def python_value(data: Any) -> int:
    """CRC-32C of `data` (any bytes-like object) in plain Python."""
    table = _TABLE
    crc = 0xFFFFFFFF
    for byte in memoryview(data).cast("B"):
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc ^ 0xFFFFFFFF


try:
    import crc32c as _fast  # the ICRAR crc32c package

    def value(data: Any) -> int:
        """CRC-32C of `data` (any bytes-like object)."""
        return _fast.crc32c(data)

    FAST = True
except ImportError:  # pragma: no cover - depends on what is installed
    value = python_value
    FAST = False
