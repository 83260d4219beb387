"""Property tests: for generated spellings of refused and allowed addresses, the guard reads the
address yarl/aiohttp would connect to, and refuses exactly what the table refuses.

Pure: nothing here opens a connection. The oracle for "what the socket would get" is yarl's
``raw_host`` (what aiohttp's connector hands on) parsed by the C library with ``AI_NUMERICHOST``
(numeric parsing only, never DNS), and aiohttp's own ``is_ip_address`` tells whether it would skip
the resolver, where a name could not be checked.
"""

from __future__ import annotations

import ipaddress
import random
import socket

import pytest
import yarl
from aiohttp.helpers import is_ip_address
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway import netguard
from gateway.delivery.guard import check_url
from gateway.errors import BlockedDestinationError
from tests.security.spellings import carriers, random_in, spell

PORT = 8080
EXAMPLES = 1500
COUNTS = {"spellings": 0}
PLAIN_ROWS = [r for r in netguard.REFUSED_RANGES if r.inner is None]
PUBLIC_V4 = [ipaddress.ip_network(n) for n in ("8.0.0.0/8", "93.184.0.0/16", "151.101.0.0/16")]
PUBLIC_V6 = [ipaddress.ip_network(n) for n in ("2606:4700::/32", "2a00:1450::/32")]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def libc_numeric(host: str) -> Address | None:
    """The address the C library reads from ``host`` without DNS, or None (a name)."""
    try:
        infos = socket.getaddrinfo(
            host, PORT, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST
        )
    except (OSError, UnicodeError, ValueError):
        return None
    return ipaddress.ip_address(str(infos[0][4][0]).split("%", 1)[0])


def url_for(host: str) -> str:
    return f"http://{host}:{PORT}/hook"


def check(address: Address, rng: random.Random) -> None:
    """The properties, for one spelling of ``address``."""
    host = spell(address, rng)
    url = url_for(host)
    COUNTS["spellings"] += 1
    refused = not netguard.decide(address, ()).allowed
    try:
        raw_host = yarl.URL(url).raw_host
    except ValueError:
        raw_host = None
    if raw_host is None:  # yarl will not send it: neither may the guard
        with pytest.raises(netguard.UnusableUrl):
            netguard.url_target(url)
        return
    target = netguard.url_target(url)
    # 1. the guard reads the address the spelling names, through every folding
    assert target.address == address, (host, raw_host, target)
    # 2. where the C library parses yarl's host numerically, it agrees
    numeric = libc_numeric(raw_host)
    if numeric is not None:
        assert numeric == address, (host, raw_host, numeric)
    # 3. aiohttp skips the resolver for this host: the guard has decided it without DNS
    if is_ip_address(raw_host):
        assert target.address is not None
    # 4. the verdict before any connection is the table's verdict for that address
    if refused:
        with pytest.raises(BlockedDestinationError) as info:
            check_url(url, ())
        assert netguard.ALLOW_SETTING in info.value.message
    else:
        assert check_url(url, ()).raw_host == raw_host


refused_plain = st.sampled_from(PLAIN_ROWS).flatmap(
    lambda row: st.randoms(use_true_random=False).map(lambda r: random_in(row.network, r))
)
refused_v4 = st.sampled_from([r for r in PLAIN_ROWS if r.network.version == 4]).flatmap(
    lambda row: st.randoms(use_true_random=False).map(lambda r: random_in(row.network, r))
)
public_v4 = st.sampled_from(PUBLIC_V4).flatmap(
    lambda net: st.randoms(use_true_random=False).map(lambda r: random_in(net, r))
)
public_v6 = st.sampled_from(PUBLIC_V6).flatmap(
    lambda net: st.randoms(use_true_random=False).map(lambda r: random_in(net, r))
)
SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@SETTINGS
@given(address=refused_plain, rng=st.randoms(use_true_random=False))
def test_refused_addresses_are_refused_in_every_spelling(
    address: Address, rng: random.Random
) -> None:
    check(address, rng)


@SETTINGS
@given(v4=refused_v4, which=st.integers(0, 5), rng=st.randoms(use_true_random=False))
def test_ipv6_forms_carrying_a_refused_ipv4_are_refused(
    v4: ipaddress.IPv4Address, which: int, rng: random.Random
) -> None:
    carrier = carriers(v4)[which]
    verdict = netguard.decide(carrier, ())
    assert not verdict.allowed, (carrier, v4)
    check(carrier, rng)


@SETTINGS
@given(address=st.one_of(public_v4, public_v6), rng=st.randoms(use_true_random=False))
def test_public_addresses_pass_in_every_spelling(address: Address, rng: random.Random) -> None:
    assert netguard.decide(address, ()).allowed
    check(address, rng)


@SETTINGS
@given(v4=public_v4, which=st.integers(0, 5), rng=st.randoms(use_true_random=False))
def test_ipv6_forms_carrying_a_public_ipv4_follow_it(
    v4: ipaddress.IPv4Address, which: int, rng: random.Random
) -> None:
    carrier = carriers(v4)[which]
    assert netguard.decide(carrier, ()).allowed, carrier
    check(carrier, rng)


@given(
    host=st.sampled_from(["localhost", "LOCALHOST", "api.localhost", "x.y.localhost"]),
    dots=st.integers(0, 2),
    fullwidth=st.booleans(),
)
def test_localhost_names_are_refused_without_dns(host: str, dots: int, fullwidth: bool) -> None:
    if fullwidth:  # IDNA folds fullwidth letters: ｌｏｃａｌｈｏｓｔ is localhost
        host = "".join(chr(ord(c) - 0x21 + 0xFF01) if c.isalpha() else c for c in host)
    url = url_for(host + "." * dots)
    COUNTS["spellings"] += 1
    with pytest.raises(BlockedDestinationError):
        check_url(url, ())


def test_spellings_tried() -> None:
    # Runs last in this module: the figure the README and the report quote.
    print(f"\nguard property spellings tried: {COUNTS['spellings']}")
