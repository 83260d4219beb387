"""Host spellings an attacker would try, for one address: what the guard must see through.

Each function takes the address and a ``random.Random`` (hypothesis hands one in through
``st.randoms()``; the namespace test seeds its own) and returns a host as it would be typed into a
URL, every one naming that same address: numeric forms the C library accepts (one to four parts,
decimal, octal, hex), Unicode digits and dots that IDNA/UTS-46 folds to ASCII (fullwidth,
circled, mathematical), trailing dots, and for IPv6 every textual form, embedded dotted quads,
leading zeros and zone ids.
"""

from __future__ import annotations

import ipaddress
import random

# Digit forms that NFKC (so IDNA/UTS-46, so yarl) folds to ASCII 0-9.
DIGIT_FORMS = (
    [chr(0xFF10 + d) for d in range(10)],  # fullwidth
    ["\u24ea"] + [chr(0x2460 + d - 1) for d in range(1, 10)],  # circled
    [chr(0x1D7CE + d) for d in range(10)],  # mathematical bold
    [chr(0x1D7F6 + d) for d in range(10)],  # mathematical monospace
)
DOTS = ("\u3002", "\uff0e", "\uff61")  # ideographic, fullwidth, halfwidth ideographic full stop
FULLWIDTH_X = "\uff58"


def spell_ipv4(address: ipaddress.IPv4Address, rng: random.Random) -> str:
    """One host string that the C library (after yarl's IDNA step) reads as ``address``."""
    value = int(address)
    octets = list(address.packed)
    count = rng.choice((1, 2, 3, 4, 4, 4))
    if count == 1:
        parts = [value]
    elif count == 2:
        parts = [octets[0], value & 0xFFFFFF]
    elif count == 3:
        parts = [octets[0], octets[1], value & 0xFFFF]
    else:
        parts = octets
    text = ".".join(_number(part, rng) for part in parts)
    if rng.random() < 0.35:
        text = _unicode(text, rng)
    return text + "." * rng.choice((0, 0, 0, 1, 2))


def _number(value: int, rng: random.Random) -> str:
    form = rng.choice(("dec", "dec", "oct", "hex", "HEX"))
    if form == "oct":
        return "0" * rng.randint(1, 3) + format(value, "o")
    if form in ("hex", "HEX"):
        digits = "0" * rng.randint(0, 2) + format(value, "x")
        prefix = rng.choice(("0x", "0X"))
        return prefix + (digits.upper() if form == "HEX" else digits)
    return str(value)


def _unicode(text: str, rng: random.Random) -> str:
    digits = rng.choice(DIGIT_FORMS)
    out = []
    for char in text:
        if char.isdigit() and rng.random() < 0.8:
            out.append(digits[int(char)])
        elif char == "." and rng.random() < 0.6:
            out.append(rng.choice(DOTS))
        elif char in "xX" and rng.random() < 0.5:
            out.append(FULLWIDTH_X)
        else:
            out.append(char)
    return "".join(out)


def spell_ipv6(address: ipaddress.IPv6Address, rng: random.Random) -> str:
    """One bracketed host that yarl and the socket layer read as ``address``."""
    groups = [format(g, "x") for g in _groups(address)]
    form = rng.choice(("compressed", "exploded", "padded", "dotted", "upper"))
    if form == "compressed":
        text = address.compressed
    elif form == "exploded":
        text = address.exploded
    elif form == "padded":
        text = ":".join("0" * rng.randint(0, 4 - len(g)) + g for g in groups)
    elif form == "dotted":  # the last 32 bits as a dotted quad, as mapped/compatible forms read
        quad = ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
        head = ipaddress.IPv6Address(int(address) & ~0xFFFF_FFFF).exploded.rsplit(":", 2)[0]
        text = f"{head}:{quad}"
    else:
        text = address.compressed.upper()
    if rng.random() < 0.2 and address.is_link_local:
        text += rng.choice(("%25lo", "%25eth0", "%251"))
    return f"[{text}]"


def _groups(address: ipaddress.IPv6Address) -> list[int]:
    value = int(address)
    return [(value >> (16 * (7 - i))) & 0xFFFF for i in range(8)]


def spell(address: ipaddress.IPv4Address | ipaddress.IPv6Address, rng: random.Random) -> str:
    if isinstance(address, ipaddress.IPv4Address):
        return spell_ipv4(address, rng)
    return spell_ipv6(address, rng)


def carriers(v4: ipaddress.IPv4Address) -> list[ipaddress.IPv6Address]:
    """The IPv6 addresses that carry ``v4`` (mapped, translated, compatible, NAT64, 6to4,
    Teredo), each decided by ``v4``."""
    n = int(v4)
    return [
        ipaddress.IPv6Address((0xFFFF << 32) | n),  # ::ffff:a.b.c.d
        ipaddress.IPv6Address((0xFFFF << 48) | n),  # ::ffff:0:a.b.c.d
        ipaddress.IPv6Address(n) if n > 1 else ipaddress.IPv6Address((0xFFFF << 32) | n),
        ipaddress.IPv6Address((0x64FF9B << 96) | n),  # 64:ff9b::/96
        ipaddress.IPv6Address((0x2002 << 112) | (n << 80) | 1),  # 2002:AABB:CCDD::1
        ipaddress.IPv6Address((0x20010000 << 96) | (0x4136E378 << 64) | (~n & 0xFFFF_FFFF)),
    ]


def random_in(
    network: ipaddress.IPv4Network | ipaddress.IPv6Network, rng: random.Random
) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return network[rng.randrange(network.num_addresses)]
