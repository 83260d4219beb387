"""The outbound guard's rules: which addresses the gateway never connects to on a user's behalf,
and which address a URL's host really names. Pure: no DNS, no sockets, no clock.

Two questions, answered apart:

- ``url_target(url)``: where will the HTTP stack connect? The host is read the way aiohttp reads
  it, from ``yarl.URL(url).raw_host`` (yarl has already applied IDNA/UTS-46, so fullwidth digits
  and ideographic dots are ASCII by then), and then the way the C library reads what aiohttp hands
  it: ``inet_aton`` numbers (``2130706433``, ``0x7f.1``, ``0177.0.0.1``, ``127.1``), trailing dots,
  bracketed IPv6 with a zone id. A host that is none of these is a DNS name; the resolver checks
  every address it resolves to at connect time (``gateway/delivery/guard.py``).
- ``decide(address, allowed)``: is this address refused? ``REFUSED_RANGES`` is an explicit table,
  first match wins, each row with its reason. It is deliberately not ``ipaddress``'s
  ``is_global``, whose answer changes between Python patch releases and which calls NAT64, 6to4,
  IPv4-compatible forms and site-local ``fec0::/10`` global. IPv6 forms that carry an IPv4 address
  are decided by the IPv4 address inside. ``allowed`` comes from
  ``GATEWAY_ALLOW_PRIVATE_NETWORKS`` (``None`` means ``*``: everything).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

import yarl

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Allowlist = tuple[Network, ...] | None  # None: ``*``, every address is allowed
ALLOW_SETTING = "GATEWAY_ALLOW_PRIVATE_NETWORKS"
MAX_URL_CHARS = 2048


@dataclass(frozen=True)
class Range:
    """One refused range. ``inner`` extracts the IPv4 address an IPv6 form carries; such a row is
    decided by that IPv4 address, not refused as a whole."""

    network: Network
    reason: str
    inner: Callable[[ipaddress.IPv6Address], ipaddress.IPv4Address] | None = None


def _low32(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)


def _teredo_client(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address:
    # RFC 4380 §4: the client's public IPv4 is the last 32 bits, every bit inverted.
    return ipaddress.IPv4Address(~int(address) & 0xFFFF_FFFF)


def _sixtofour(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address:
    # RFC 3056 §2: 2002:WWXX:YYZZ::/48 carries the IPv4 address in bits 16..47.
    return ipaddress.IPv4Address((int(address) >> 80) & 0xFFFF_FFFF)


def _row(
    cidr: str,
    reason: str,
    inner: Callable[[ipaddress.IPv6Address], ipaddress.IPv4Address] | None = None,
) -> Range:
    return Range(ipaddress.ip_network(cidr), reason, inner)


# First match wins, so a more specific row comes before the row that contains it.
REFUSED_RANGES: tuple[Range, ...] = (
    # IPv4 (RFC 6890 special-purpose registry)
    _row("0.0.0.0/8", "'this network' (RFC 1122): 0.0.0.0 reaches the local host"),
    _row("10.0.0.0/8", "private network (RFC 1918)"),
    _row("100.64.0.0/10", "carrier-grade NAT shared space (RFC 6598)"),
    _row("127.0.0.0/8", "loopback (RFC 1122)"),
    _row("169.254.169.254/32", "cloud metadata service (link-local)"),
    _row("169.254.0.0/16", "link-local (RFC 3927)"),
    _row("172.16.0.0/12", "private network (RFC 1918)"),
    _row("192.0.0.0/24", "IETF protocol assignments (RFC 6890)"),
    _row("192.0.2.0/24", "documentation TEST-NET-1 (RFC 5737)"),
    _row("192.88.99.0/24", "deprecated 6to4 relay anycast (RFC 7526)"),
    _row("192.168.0.0/16", "private network (RFC 1918)"),
    _row("198.18.0.0/15", "benchmarking (RFC 2544)"),
    _row("198.51.100.0/24", "documentation TEST-NET-2 (RFC 5737)"),
    _row("203.0.113.0/24", "documentation TEST-NET-3 (RFC 5737)"),
    _row("224.0.0.0/4", "multicast (RFC 5771)"),
    _row("255.255.255.255/32", "limited broadcast (RFC 919)"),
    _row("240.0.0.0/4", "reserved (RFC 1112)"),
    # IPv6
    _row("::/128", "unspecified address (RFC 4291)"),
    _row("::1/128", "loopback (RFC 4291)"),
    _row("::ffff:0:0/96", "IPv4-mapped (RFC 4291)", _low32),
    _row("::ffff:0:0:0/96", "IPv4-translated (RFC 2765)", _low32),
    _row("::/96", "IPv4-compatible, deprecated (RFC 4291)", _low32),
    _row("64:ff9b::/96", "NAT64 well-known prefix (RFC 6052)", _low32),
    _row(
        "64:ff9b:1::/48",
        "local-use NAT64 prefix (RFC 8215): the IPv4 it reaches depends on a translator on the "
        "operator's own network",
    ),
    _row("100::/64", "discard-only (RFC 6666)"),
    _row("2001::/32", "Teredo (RFC 4380)", _teredo_client),
    _row("2001:2::/48", "benchmarking (RFC 5180)"),
    _row("2001:10::/28", "ORCHID identifiers, not routable (RFC 4843)"),
    _row("2001:20::/28", "ORCHIDv2 identifiers, not routable (RFC 7343)"),
    _row("2001:db8::/32", "documentation (RFC 3849)"),
    _row("2002::/16", "6to4 (RFC 3056)", _sixtofour),
    _row("3fff::/20", "documentation (RFC 9637)"),
    _row("fc00::/7", "unique local addresses, private (RFC 4193)"),
    _row("fe80::/10", "link-local (RFC 4291)"),
    _row("fec0::/10", "site-local, deprecated (RFC 3879)"),
    _row("ff00::/8", "multicast (RFC 4291)"),
)
GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")
# Everything of IPv6 outside 2000::/3 that no row above matched is unassigned or reserved.
OUTSIDE_GLOBAL_UNICAST = Range(
    ipaddress.IPv6Network("::/0"), "outside global unicast 2000::/3 (RFC 4291): reserved"
)
LOCALHOST = ipaddress.IPv4Address("127.0.0.1")
NAMED_LOOPBACK = Range(
    ipaddress.IPv4Network("127.0.0.0/8"), "'localhost' names loopback (RFC 6761)"
)


@dataclass(frozen=True)
class Verdict:
    """The guard's answer for one address: ``refused_by`` is None when it may be connected to."""

    address: IPAddress
    refused_by: Range | None = None
    inner: ipaddress.IPv4Address | None = None  # the embedded IPv4 that decided it, if any

    @property
    def allowed(self) -> bool:
        return self.refused_by is None

    def message(self, host: str | None = None) -> str:
        reason = self.refused_by.reason if self.refused_by else "allowed"
        named = f"{host} is {self.address}" if host and host != str(self.address) else ""
        what = f"{named or self.address}"
        if self.inner is not None:
            what += f", which carries IPv4 {self.inner}"
        return f"{what}: {reason}; refused unless {ALLOW_SETTING} allows it"


def refused_range(address: IPAddress) -> Range | None:
    """The first table row containing ``address`` (the catch-all for reserved IPv6), or None."""
    for row in REFUSED_RANGES:
        if row.network.version == address.version and address in row.network:
            return row
    if address.version == 6 and address not in GLOBAL_UNICAST_V6:
        return OUTSIDE_GLOBAL_UNICAST
    return None


def decide(address: IPAddress, allowed: Allowlist) -> Verdict:
    """Refused when a row of the table holds it, unless ``allowed`` (the operator's CIDRs) does."""
    if allowed is None or _listed(address, allowed):
        return Verdict(address)
    row = refused_range(address)
    if row is None:
        return Verdict(address)
    if row.inner is not None and isinstance(address, ipaddress.IPv6Address):
        carried = row.inner(address)
        inside = decide(carried, allowed)
        return Verdict(address, inside.refused_by, carried if inside.refused_by else None)
    return Verdict(address, row)


def _listed(address: IPAddress, allowed: tuple[Network, ...]) -> bool:
    return any(address.version == net.version and address in net for net in allowed)


def parse_allowlist(text: str) -> Allowlist:
    """``GATEWAY_ALLOW_PRIVATE_NETWORKS``: comma-separated CIDRs or addresses; ``*`` = all."""
    items = [p.strip() for p in text.split(",") if p.strip()]
    if "*" in items:
        return None
    return tuple(ipaddress.ip_network(p, strict=False) for p in items)


# -- what a host names --------------------------------------------------------------------------
class UnusableUrl(ValueError):
    """The URL cannot be sent to: not absolute http(s), no host, or a host no parser agrees on."""


@dataclass(frozen=True)
class Target:
    """Where a request to a URL goes: ``address`` for an IP literal (in any spelling), else the
    DNS ``host`` that the resolver will look up (and check) at connect time."""

    url: yarl.URL  # the parsed URL: the very object the client hands to aiohttp
    host: str  # its raw_host: what aiohttp hands to the resolver or the socket
    port: int
    address: IPAddress | None


_HEX = re.compile(r"0x[0-9a-f]+")
_OCT = re.compile(r"0[0-7]*")
_DEC = re.compile(r"[1-9][0-9]*")
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")
_HOST_NAME = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,62})(?:\.[a-z0-9_](?:[a-z0-9_-]{0,62}))*")


def url_target(url: str | yarl.URL) -> Target:
    """Parse ``url`` as aiohttp will and say where it connects; ``UnusableUrl`` otherwise."""
    if isinstance(url, str) and len(url) > MAX_URL_CHARS:
        raise UnusableUrl(f"is longer than {MAX_URL_CHARS} characters")
    try:
        parsed = url if isinstance(url, yarl.URL) else yarl.URL(url)
        host, port = parsed.raw_host, parsed.port
    except (ValueError, TypeError) as exc:
        raise UnusableUrl(f"is not a URL: {exc}") from exc
    if not parsed.absolute or parsed.scheme not in ("http", "https"):
        raise UnusableUrl("must be an absolute http(s) URL")
    if not host or port is None:
        raise UnusableUrl("must have a host")
    return Target(parsed, host, port, host_address(host))


def host_address(host: str) -> IPAddress | None:
    """The IP address ``host`` (a yarl raw_host) names, or None when it is a DNS name.

    Raises ``UnusableUrl`` for a host that looks like an address but is none (``1.2.3.4.5``,
    ``08.1``), carries characters no DNS name has, or is not ASCII (yarl encodes every name it
    sends, so such a host never reaches the wire as given).
    """
    if not host.isascii():
        raise UnusableUrl(f"host {host!r} is not ASCII after IDNA encoding")
    bare = host.lower()
    if bare.startswith("[") and bare.endswith("]"):
        bare = bare[1:-1]
    if ":" in bare:
        literal = bare.split("%", 1)[0]  # the RFC 6874 zone id does not change the address
        try:
            return ipaddress.IPv6Address(literal)
        except ValueError:
            raise UnusableUrl(f"host {host!r} is not an IPv6 address") from None
    bare = bare.rstrip(".")  # the resolver ignores a trailing dot: 127.0.0.1. is 127.0.0.1
    v4 = inet_aton(bare)
    if v4 is not None:
        return v4
    labels = bare.split(".")
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        raise UnusableUrl(f"host {host!r} looks like an IPv4 address but is not one")
    if not _HOST_NAME.fullmatch(bare) or len(bare) > 253:
        raise UnusableUrl(f"host {host!r} is not a DNS name")
    return None


def inet_aton(text: str) -> ipaddress.IPv4Address | None:
    """The C library's reading of a numeric IPv4 host (glibc ``inet_aton``, which
    ``getaddrinfo`` applies before any DNS): one to four parts, each decimal, octal (leading 0) or
    hex (0x); the last part fills the remaining bytes. None when ``text`` is not such a number."""
    parts = text.lower().split(".")
    if not 1 <= len(parts) <= 4:
        return None
    values: list[int] = []
    for part in parts:
        if _HEX.fullmatch(part):
            value = int(part[2:], 16)
        elif _OCT.fullmatch(part):
            value = int(part, 8)
        elif _DEC.fullmatch(part):
            value = int(part)
        else:
            return None
        if value > 0xFFFF_FFFF:
            return None
        values.append(value)
    *head, last = values
    if any(v > 0xFF for v in head) or last >= 1 << (8 * (4 - len(head))):
        return None
    number = last
    for index, value in enumerate(head):
        number |= value << (8 * (3 - index))
    return ipaddress.IPv4Address(number)


def name_refusal(host: str, allowed: Allowlist) -> str | None:
    """Why a DNS name is refused without asking DNS, or None: ``localhost`` and ``*.localhost``
    are loopback (RFC 6761 §6.3; resolvers answer them locally), refused unless 127.0.0.1 is
    allowed."""
    name = host.lower().rstrip(".")
    if name != "localhost" and not name.endswith(".localhost"):
        return None
    if decide(LOCALHOST, allowed).allowed:
        return None
    return f"{host}: {NAMED_LOOPBACK.reason}; refused unless {ALLOW_SETTING} allows it"


def resolved_address(text: str) -> IPAddress | None:
    """An address as a resolver returns it (``fe80::1%eth0`` keeps its zone); None if garbled."""
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
