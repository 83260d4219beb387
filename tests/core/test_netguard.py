"""The guard's address table, row by row, and its reading of hosts (gateway/netguard.py)."""

from __future__ import annotations

import ipaddress

import pytest

from gateway import netguard
from gateway.netguard import REFUSED_RANGES, Range, decide, host_address, inet_aton, url_target

ip = ipaddress.ip_address
ROWS = {str(r.network): r for r in REFUSED_RANGES}

# (row's network, an address inside it, what decides it). Every row of the table appears here:
# ``test_every_row_is_covered`` fails when a row is added without its case.
PLAIN_ROWS = [
    ("0.0.0.0/8", "0.0.0.0"),  # connect() to 0.0.0.0 reaches the local host
    ("10.0.0.0/8", "10.255.255.255"),  # RFC 1918, last address
    ("100.64.0.0/10", "100.100.100.200"),  # CGNAT (also Alibaba's metadata address)
    ("127.0.0.0/8", "127.53.0.1"),  # loopback is the whole /8, not only 127.0.0.1
    ("169.254.169.254/32", "169.254.169.254"),  # AWS/GCP/Azure metadata
    ("169.254.0.0/16", "169.254.0.1"),  # link-local
    ("172.16.0.0/12", "172.31.255.254"),  # RFC 1918, top of the /12
    ("192.0.0.0/24", "192.0.0.170"),  # NAT64 discovery, IETF assignments
    ("192.0.2.0/24", "192.0.2.1"),  # TEST-NET-1
    ("192.88.99.0/24", "192.88.99.1"),  # deprecated 6to4 relay anycast
    ("192.168.0.0/16", "192.168.1.1"),  # home routers
    ("198.18.0.0/15", "198.19.255.255"),  # benchmarking, second half of the /15
    ("198.51.100.0/24", "198.51.100.7"),  # TEST-NET-2
    ("203.0.113.0/24", "203.0.113.9"),  # TEST-NET-3
    ("224.0.0.0/4", "239.255.255.250"),  # multicast (SSDP)
    ("255.255.255.255/32", "255.255.255.255"),  # limited broadcast, before 240/4
    ("240.0.0.0/4", "250.1.2.3"),  # reserved class E
    ("::/128", "::"),  # unspecified, before ::/96
    ("::1/128", "::1"),  # loopback, before ::/96
    ("64:ff9b:1::/48", "64:ff9b:1::a00:1"),  # local-use NAT64: refused whole (see the table)
    ("100::/64", "100::1"),  # discard-only
    ("2001:2::/48", "2001:2::1"),  # benchmarking
    ("2001:10::/28", "2001:10::1"),  # ORCHID
    ("2001:20::/28", "2001:20::1"),  # ORCHIDv2
    ("2001:db8::/32", "2001:db8::1"),  # documentation
    ("3fff::/20", "3fff::1"),  # documentation (2024)
    ("fc00::/7", "fd12:3456::1"),  # ULA (fd00::/8 half)
    ("fe80::/10", "fe80::1"),  # link-local
    ("fec0::/10", "fec0::1"),  # site-local: is_global says True on some Pythons
    ("ff00::/8", "ff02::1"),  # all-nodes multicast
]

# (row's network, the IPv6 form carrying 127.0.0.1, the same form carrying 8.8.8.8)
EMBEDDED_ROWS = [
    ("::ffff:0:0/96", "::ffff:127.0.0.1", "::ffff:8.8.8.8"),  # mapped: Linux connects via IPv4
    ("::ffff:0:0:0/96", "::ffff:0:127.0.0.1", "::ffff:0:8.8.8.8"),  # SIIT translated
    ("::/96", "::127.0.0.1", "::8.8.8.8"),  # IPv4-compatible
    ("64:ff9b::/96", "64:ff9b::127.0.0.1", "64:ff9b::8.8.8.8"),  # NAT64 well-known prefix
    ("2001::/32", "2001:0:4136:e378:8000:63bf:80ff:fffe", "2001:0:4136:e378:8000:63bf:f7f7:f7f7"),
    # ^ Teredo: the client IPv4 is the inverted last 32 bits (~80ff:fffe = 127.0.0.1)
    ("2002::/16", "2002:7f00:1::", "2002:808:808::1"),  # 6to4: bits 16..47
]


def test_every_row_is_covered() -> None:
    covered = {n for n, _ in PLAIN_ROWS} | {n for n, _, _ in EMBEDDED_ROWS}
    assert covered == set(ROWS)


@pytest.mark.parametrize(("network", "address"), PLAIN_ROWS)
def test_plain_row_refuses_its_addresses(network: str, address: str) -> None:
    row = ROWS[network]
    verdict = decide(ip(address), ())
    assert verdict.refused_by is row
    assert netguard.ALLOW_SETTING in verdict.message()
    # both ends of the range are refused too (by this row or a more specific one before it)
    for edge in (row.network.network_address, row.network.broadcast_address):
        assert not decide(edge, ()).allowed, edge


@pytest.mark.parametrize(("network", "refused", "public"), EMBEDDED_ROWS)
def test_embedded_row_is_decided_by_the_ipv4_inside(
    network: str, refused: str, public: str
) -> None:
    row = ROWS[network]
    assert row.inner is not None
    assert netguard.refused_range(ip(refused)) is row
    verdict = decide(ip(refused), ())
    assert verdict.refused_by is ROWS["127.0.0.0/8"]
    assert verdict.inner == ip("127.0.0.1")
    assert "127.0.0.1" in verdict.message()
    assert decide(ip(public), ()).allowed
    # allowing the IPv4 range allows its IPv6 carriers too (the connection reaches it)
    assert decide(ip(refused), (ipaddress.ip_network("127.0.0.0/8"),)).allowed


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",  # public resolver
        "1.1.1.1",
        "100.63.255.255",  # just below CGNAT
        "100.128.0.0",  # just above CGNAT
        "172.15.255.255",  # just below 172.16/12
        "172.32.0.0",  # just above
        "198.17.255.255",  # just below benchmarking
        "198.20.0.0",  # just above
        "223.255.255.255",  # just below multicast
        "2606:4700:4700::1111",  # public IPv6
        "2a00:1450:4001:80b::200e",
    ],
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert decide(ip(address), ()).allowed


@pytest.mark.parametrize(
    "address",
    ["4000::1", "::2:1:1:1", "1::1", "e000::1"],  # outside 2000::/3: unassigned
)
def test_ipv6_outside_global_unicast_is_refused(address: str) -> None:
    assert decide(ip(address), ()).refused_by is netguard.OUTSIDE_GLOBAL_UNICAST


def test_table_not_is_global() -> None:
    # The forms Python's is_global has called global (it changes between patch releases).
    for address in ("64:ff9b::7f00:1", "2002:7f00:1::", "::127.0.0.1", "fec0::1"):
        assert not decide(ip(address), ()).allowed, address


def test_allowlist() -> None:
    allowed = netguard.parse_allowlist("10.1.0.0/16, fd00::/8")
    assert allowed is not None
    assert decide(ip("10.1.2.3"), allowed).allowed
    assert not decide(ip("10.2.0.1"), allowed).allowed
    assert decide(ip("fd00::5"), allowed).allowed
    assert netguard.parse_allowlist("*") is None
    assert decide(ip("127.0.0.1"), None).allowed
    assert netguard.parse_allowlist("") == ()


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),  # canonical
        ("2130706433", "127.0.0.1"),  # one 32-bit number
        ("0x7f000001", "127.0.0.1"),  # hex number
        ("0x7f.1", "127.0.0.1"),  # hex, short form
        ("0177.0.0.1", "127.0.0.1"),  # octal first part
        ("127.1", "127.0.0.1"),  # a.b form: b fills 24 bits
        ("127.0.1", "127.0.0.1"),  # a.b.c form: c fills 16 bits
        ("127.000.000.001", "127.0.0.1"),  # leading zeros are octal zeros
        ("0", "0.0.0.0"),
        ("127.0.0.1.", "127.0.0.1"),  # trailing dot
        ("169.254.169.254..", "169.254.169.254"),  # several
        ("0x7F.0X0.0.01", "127.0.0.1"),  # upper case hex prefix
        ("::1", "::1"),
        ("[::1]", "::1"),  # brackets, should they reach us
        ("fe80::1%25eth0", "fe80::1"),  # RFC 6874 zone id, percent-encoded
        ("fe80::1%eth0", "fe80::1"),  # bare zone id
        ("::ffff:7f00:1", "::ffff:7f00:1"),
    ],
)
def test_host_address_reads_numeric_forms(host: str, address: str) -> None:
    assert host_address(host) == ip(address)


@pytest.mark.parametrize(
    "host",
    [
        "1.2.3.4.5",  # five parts
        "256.1.1.1",  # part too big
        "08.0.0.1",  # bad octal
        "1.2.3.0x",  # empty hex
        "999999999999",  # beyond 32 bits
        "127.0.0.1 x",  # a space
        "%31%32%37.0.0.1",  # percent-encoded digits
        "exa mple.com",
        "::zz",  # a colon but no IPv6 address
        "xn--9hbcp.1",  # numeric last label
        "ex\u00e4mple.com",  # not ASCII (yarl sends the IDNA form; we never see this)
    ],
)
def test_host_address_refuses_what_is_neither_address_nor_name(host: str) -> None:
    with pytest.raises(netguard.UnusableUrl):
        host_address(host)


@pytest.mark.parametrize(
    "host", ["example.com", "hooks.zapier.com", "a-b_c.example", "xn--bcher-kva.example"]
)
def test_host_address_names(host: str) -> None:
    assert host_address(host) is None


def test_inet_aton_limits() -> None:
    assert inet_aton("1.16777215") == ip("1.255.255.255")
    assert inet_aton("1.16777216") is None
    assert inet_aton("4294967295") == ip("255.255.255.255")
    assert inet_aton("4294967296") is None
    assert inet_aton("0x") is None


@pytest.mark.parametrize(
    ("url", "host", "address"),
    [
        (
            "http://\uff11\uff12\uff17\uff0e\uff10\uff0e\uff10\uff0e\uff11/",
            "127.0.0.1",
            "127.0.0.1",
        ),
        ("http://127\u30020\u30020\u30021/", "127.0.0.1", "127.0.0.1"),  # ideographic full stop
        ("http://\u2460\u2461\u2466.0.0.1/", "127.0.0.1", "127.0.0.1"),  # circled digits
        ("https://user:pw@[::ffff:127.0.0.1]:8443/x", "::ffff:7f00:1", "::ffff:7f00:1"),
        ("http://LOCALHOST./", "localhost.", None),
    ],
)
def test_url_target_reads_what_yarl_sends(url: str, host: str, address: str | None) -> None:
    target = url_target(url)
    assert target.host == host
    assert target.address == (ip(address) if address else None)


@pytest.mark.parametrize(
    "url",
    [
        "http://",
        "http:///x",
        "ftp://example.com/",
        "/relative",
        "example.com",
        "http://:80/",
        "https://" + "a" * 2050 + ".com/",
    ],
)
def test_url_target_refuses_unusable_urls(url: str) -> None:
    with pytest.raises(netguard.UnusableUrl):
        url_target(url)


def test_localhost_names() -> None:
    assert netguard.name_refusal("localhost", ()) is not None
    assert netguard.name_refusal("API.localhost.", ()) is not None
    assert netguard.name_refusal("localhost.example.com", ()) is None
    assert netguard.name_refusal("localhost", (ipaddress.ip_network("127.0.0.0/8"),)) is None


def test_range_is_a_plain_value() -> None:
    row = Range(ipaddress.ip_network("10.0.0.0/8"), "x")
    assert row.inner is None and row == Range(ipaddress.ip_network("10.0.0.0/8"), "x")
