"""IPv4 and IPv6 in Python: ranges, masks, CIDR lists, IPv6 comparison and the has_ipv4 text matches."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

_V4 = re.compile(r"(?<![\w.])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?![\w.]?\d)")


def _v4(value: Any) -> tuple[ipaddress.IPv4Address, int] | None:
    """An IPv4 address with an optional /prefix (text or a long), as (address, prefix)."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return (ipaddress.IPv4Address(value & 0xFFFFFFFF), 32) if 0 <= value <= 0xFFFFFFFF else None
    text = str(value).strip()
    addr, _, pre = text.partition("/")
    try:
        ip = ipaddress.IPv4Address(addr)
    except ValueError:
        return None
    prefix = 32
    if pre:
        if not pre.isdigit() or int(pre) > 32:
            return None
        prefix = int(pre)
    return ip, prefix


def _mask4(prefix: int) -> int:
    return (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF if prefix else 0


def _net4(value: Any, prefix: int | None = None) -> tuple[int, int] | None:
    got = _v4(value)
    if got is None:
        return None
    ip, pre = got
    if prefix is not None:
        if not 0 <= int(prefix) <= 32:
            return None
        pre = min(pre, int(prefix))
    return int(ip) & _mask4(pre), pre


def ipv4_is_in_any_range(ip: Any, *ranges: Any) -> Any:
    addr = _v4(ip)
    if addr is None:
        return None
    items: list[Any] = []
    for r in ranges:
        items += r if isinstance(r, list) else [r]
    for r in items:
        net = _net4(r)
        if net is not None and int(addr[0]) & _mask4(net[1]) == net[0]:
            return True
    return False


def format_ipv4(ip: Any, prefix: int = 32) -> Any:
    net = _net4(ip, prefix)
    return None if net is None else str(ipaddress.IPv4Address(net[0]))


def format_ipv4_mask(ip: Any, prefix: int = 32) -> Any:
    net = _net4(ip, prefix)
    return None if net is None else f"{ipaddress.IPv4Address(net[0])}/{net[1]}"


def parse_ipv4_mask(ip: Any, prefix: int) -> Any:
    net = _net4(ip, prefix)
    return None if net is None else net[0]


def ipv4_netmask_suffix(ip: Any) -> Any:
    got = _v4(ip)
    return None if got is None else got[1]


def ipv4_range_to_cidr_list(start: Any, end: Any) -> Any:
    a, b = _v4(start), _v4(end)
    if a is None or b is None:
        return None
    lo, hi = sorted((a[0], b[0]))
    return [str(n) for n in ipaddress.summarize_address_range(lo, hi)]


def _v6(value: Any) -> tuple[int, int] | None:
    """An IPv6 (or IPv4, mapped) address with an optional /prefix, as (integer, prefix)."""
    if value is None:
        return None
    text = str(value).strip()
    addr, _, pre = text.partition("/")
    if "." in addr and ":" in addr:  # `::192.168.1.1` is read as the IPv4 address (mapped), prefix and all
        addr = addr.rsplit(":", 1)[1]
    try:
        ip6 = ipaddress.IPv6Address(addr)
        value6, limit = int(ip6), 128
    except ValueError:
        v4 = _v4(addr)
        if v4 is None:
            return None
        value6, limit = 0xFFFF00000000 | int(v4[0]), 128
        if pre:
            if not pre.isdigit() or int(pre) > 32:
                return None
            return value6, 96 + int(pre)
    prefix = limit
    if pre:
        if not pre.isdigit() or int(pre) > 128:
            return None
        prefix = int(pre)
    return value6, prefix


def _mask6(prefix: int) -> int:
    return ((1 << 128) - 1) << (128 - prefix) & ((1 << 128) - 1) if prefix else 0


def _full6(value: int) -> str:
    h = f"{value:032x}"
    return ":".join(h[i : i + 4] for i in range(0, 32, 4))


def parse_ipv6(ip: Any) -> Any:
    got = _v6(ip)
    return None if got is None else _full6(got[0] & _mask6(got[1]))


def parse_ipv6_mask(ip: Any, prefix: int) -> Any:
    got = _v6(ip)
    if got is None or not 0 <= int(prefix) <= 128:
        return None
    return _full6(got[0] & _mask6(min(got[1], int(prefix))))


def ipv6_compare(a: Any, b: Any, prefix: int = 128) -> Any:
    x, y = _v6(a), _v6(b)
    if x is None or y is None or not 0 <= int(prefix) <= 128:
        return None
    m = _mask6(min(x[1], y[1], int(prefix)))
    p, q = x[0] & m, y[0] & m
    return (p > q) - (p < q)


def ipv6_is_match(a: Any, b: Any, prefix: int = 128) -> Any:
    got = ipv6_compare(a, b, prefix)
    return None if got is None else got == 0


def ipv6_is_in_range(ip: Any, rng: Any) -> Any:
    x, r = _v6(ip), _v6(rng)
    if x is None or r is None:
        return None
    m = _mask6(r[1])
    return x[0] & m == r[0] & m


def ipv6_is_in_any_range(ip: Any, *ranges: Any) -> Any:
    x = _v6(ip)
    if x is None:
        return None
    items: list[Any] = []
    for r in ranges:
        items += r if isinstance(r, list) else [r]
    for r in items:
        got = _v6(r)
        if got is not None and x[0] & _mask6(got[1]) == got[0] & _mask6(got[1]):
            return True
    return False


def _ipv4s(text: Any) -> list[str]:
    out: list[str] = []
    for m in _V4.finditer(str(text or "")):
        if all(int(g) <= 255 for g in m.groups()):
            out.append(m.group(0))
    return out


def has_ipv4(source: Any, ip: Any) -> Any:
    if _v4(ip) is None:
        return False
    want = str(ipaddress.IPv4Address(str(ip).strip()))
    return any(str(ipaddress.IPv4Address(found)) == want for found in _ipv4s(source))


def _prefix_ok(prefix: str) -> bool:
    parts = prefix.rstrip(".").split(".")
    return 1 <= len(parts) <= 4 and all(p.isdigit() and int(p) <= 255 for p in parts)


def has_ipv4_prefix(source: Any, prefix: Any) -> Any:
    p = str(prefix or "").strip()
    if not _prefix_ok(p):
        return False
    complete = p.count(".") == 3 and not p.endswith(".")
    if not complete and not p.endswith("."):
        return False
    for found in _ipv4s(source):
        if complete and found == p:
            return True
        if not complete and found.startswith(p if p.endswith(".") else p + "."):
            return True
    return False


def has_any_ipv4(source: Any, *ips: Any) -> Any:
    items: list[Any] = []
    for x in ips:
        items += x if isinstance(x, list) else [x]
    return any(has_ipv4(source, ip) for ip in items)


def has_any_ipv4_prefix(source: Any, *prefixes: Any) -> Any:
    items: list[Any] = []
    for x in prefixes:
        items += x if isinstance(x, list) else [x]
    return any(has_ipv4_prefix(source, p) for p in items)


IMPLS: dict[str, Any] = {
    "ipv4_is_in_any_range": ipv4_is_in_any_range,
    "format_ipv4": format_ipv4,
    "format_ipv4_mask": format_ipv4_mask,
    "parse_ipv4_mask": parse_ipv4_mask,
    "ipv4_netmask_suffix": ipv4_netmask_suffix,
    "ipv4_range_to_cidr_list": ipv4_range_to_cidr_list,
    "parse_ipv6": parse_ipv6,
    "parse_ipv6_mask": parse_ipv6_mask,
    "ipv6_compare": ipv6_compare,
    "ipv6_is_match": ipv6_is_match,
    "ipv6_is_in_range": ipv6_is_in_range,
    "ipv6_is_in_any_range": ipv6_is_in_any_range,
    "has_ipv4": has_ipv4,
    "has_ipv4_prefix": has_ipv4_prefix,
    "has_any_ipv4": has_any_ipv4,
    "has_any_ipv4_prefix": has_any_ipv4_prefix,
}
