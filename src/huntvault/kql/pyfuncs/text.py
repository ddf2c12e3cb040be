"""Strings, encodings and hashes in Python: codepoints, punycode, versions, base64 forms, compression,
url encoding, XML, hashing (Kusto's xxhash64-based `hash`), format_bytes, format_timespan."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
import struct
import uuid
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, unquote_plus
from xml.etree import ElementTree

from huntvault.kql.pyfuncs.dates import iso_seconds

_M64 = (1 << 64) - 1
_P1, _P2, _P3, _P4, _P5 = (
    11400714785074694791,
    14029467366897019727,
    1609587929392839161,
    9650029242287828579,
    2870177450012600261,
)


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & _M64


def _round(acc: int, lane: int) -> int:
    acc = (acc + lane * _P2) & _M64
    return (_rotl(acc, 31) * _P1) & _M64


def _merge(acc: int, val: int) -> int:
    acc ^= _round(0, val)
    return (acc * _P1 + _P4) & _M64


def xxhash64(data: bytes, seed: int = 0) -> int:
    """XXH64 of `data` (the published algorithm), unsigned."""
    n = len(data)
    i = 0
    if n >= 32:
        v1 = (seed + _P1 + _P2) & _M64
        v2 = (seed + _P2) & _M64
        v3 = seed & _M64
        v4 = (seed - _P1) & _M64
        while i + 32 <= n:
            v1 = _round(v1, int.from_bytes(data[i : i + 8], "little"))
            v2 = _round(v2, int.from_bytes(data[i + 8 : i + 16], "little"))
            v3 = _round(v3, int.from_bytes(data[i + 16 : i + 24], "little"))
            v4 = _round(v4, int.from_bytes(data[i + 24 : i + 32], "little"))
            i += 32
        h = (_rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18)) & _M64
        for v in (v1, v2, v3, v4):
            h = _merge(h, v)
    else:
        h = (seed + _P5) & _M64
    h = (h + n) & _M64
    while i + 8 <= n:
        h ^= _round(0, int.from_bytes(data[i : i + 8], "little"))
        h = (_rotl(h, 27) * _P1 + _P4) & _M64
        i += 8
    if i + 4 <= n:
        h ^= (int.from_bytes(data[i : i + 4], "little") * _P1) & _M64
        h = (_rotl(h, 23) * _P2 + _P3) & _M64
        i += 4
    while i < n:
        h ^= (data[i] * _P5) & _M64
        h = (_rotl(h, 11) * _P1) & _M64
        i += 1
    h ^= h >> 33
    h = (h * _P2) & _M64
    h ^= h >> 29
    h = (h * _P3) & _M64
    h ^= h >> 32
    return h


def _signed(u: int) -> int:
    return u - (1 << 64) if u >= 1 << 63 else u


_TICKS_EPOCH = datetime(1, 1, 1, tzinfo=UTC)


def _ticks_of(value: datetime) -> int:
    return ((value - _TICKS_EPOCH) // timedelta(microseconds=1)) * 10


def _span_text(span: timedelta) -> str:
    ticks = _ticks(span)
    sign = "-" if ticks < 0 else ""
    days, rest = divmod(abs(ticks), 864_000_000_000)
    secs, frac = divmod(rest, 10_000_000)
    hh, rem = divmod(secs, 3600)
    mm, ss = divmod(rem, 60)
    out = f"{sign}{f'{days}.' if days else ''}{hh:02d}:{mm:02d}:{ss:02d}"
    return out + (f".{frac:07d}" if frac else "")


def _text(value: Any) -> str:
    """A value as Kusto's tostring() writes it (datetimes with 7 fractional digits)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return f"{iso_seconds(value)}.{value.microsecond:06d}0Z"
    if isinstance(value, timedelta):
        return _span_text(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _hash_bytes(value: Any) -> bytes:
    """What Kusto hashes: the UTF-8 text of strings, the 8 little-endian bytes of numbers and ticks."""
    if isinstance(value, datetime):
        return _ticks_of(value).to_bytes(8, "little", signed=True)
    if isinstance(value, timedelta):
        return _ticks(value).to_bytes(8, "little", signed=True)
    if isinstance(value, bool):
        return bytes([1 if value else 0])
    if isinstance(value, int):
        return value.to_bytes(8, "little", signed=True)
    if isinstance(value, float):
        return struct.pack("<d", value)
    return _text(value).encode("utf-8")


def hash_xxhash64(value: Any, mod: int | None = None) -> Any:
    h = xxhash64(_hash_bytes(value))
    return _signed(h) if mod is None else h % int(mod)


def hash_many(*values: Any) -> Any:
    h = 0
    for i, v in enumerate(values):
        one = hash_xxhash64(v)
        h = one if i == 0 else _combine(h, one)
    return h


def _combine(a: int, b: int) -> int:
    return _signed(((a & _M64) * 31 + (b & _M64)) & _M64)


def hash_combine(*values: Any) -> Any:
    h = int(values[0])
    for v in values[1:]:
        h = _combine(h, int(v))
    return h


def hash_crc32(value: Any, mod: int | None = None) -> Any:
    h = zlib.crc32(_text(value).encode("utf-8"))
    return h if mod is None else h % int(mod)


def unicode_codepoints_from_string(s: Any) -> Any:
    return None if s is None else [ord(ch) for ch in str(s)]


def unicode_codepoints_to_string(*values: Any) -> Any:
    out: list[str] = []
    for v in values:
        for cp in v if isinstance(v, list) else [v]:
            if cp is None:
                continue
            out.append(chr(int(cp)))
    return "".join(out)


def string_size(s: Any) -> Any:
    return len(_text(s).encode("utf-8"))


def strcmp(a: Any, b: Any) -> Any:
    x, y = _text(a), _text(b)
    return (x > y) - (x < y)


_REGEX_SPECIAL = set("\\.^$|?*+()[]{}")


def regex_quote(s: Any) -> Any:
    return "".join("\\" + ch if ch in _REGEX_SPECIAL else ch for ch in _text(s))


def indexof_regex(s: Any, pattern: Any, start: int = 0, length: int = -1, occurrence: int = 1) -> Any:
    text = _text(s)
    st = int(start)
    if st < 0 or st > len(text) or int(occurrence) < 1:
        return None if st < 0 or int(occurrence) < 1 else -1
    stop = len(text) if int(length) < 0 else min(len(text), st + int(length))
    rx = re.compile(_text(pattern))
    for seen, m in enumerate(rx.finditer(text, st, stop), start=1):
        if seen == int(occurrence):
            return m.start()
    return -1


def punycode_from_string(s: Any) -> Any:
    text = _text(s)
    if all(ord(ch) < 128 for ch in text):
        return text
    return text.encode("punycode").decode("ascii")


def punycode_to_string(s: Any) -> Any:
    return _text(s).encode("ascii").decode("punycode")


def parse_version(s: Any) -> Any:
    parts = _text(s).strip().split(".")
    if not 1 <= len(parts) <= 4 or not all(p.isdigit() and len(p) <= 8 for p in parts):
        return None
    parts += ["0"] * (4 - len(parts))
    return int("".join(p.zfill(8) for p in parts))


def base64_decode_toarray(s: Any) -> Any:
    try:
        return list(base64.b64decode(_text(s), validate=True))
    except ValueError:
        return None


def base64_encode_fromarray(a: Any) -> Any:
    if not isinstance(a, list):
        return None
    return base64.b64encode(bytes(int(b) & 0xFF for b in a)).decode("ascii")


def base64_decode_toguid(s: Any) -> Any:
    """16 bytes as a GUID: the first two groups little-endian, the rest in byte order (the reference's
    `JpbpECu8dUy7Pv5gbeJXAA==` is 10e99626-bc2b-754c-bb3e-fe606de25700)."""
    raw = base64.b64decode(_text(s), validate=True)
    if len(raw) != 16:
        return None
    return str(uuid.UUID(bytes=raw[3::-1] + raw[5:3:-1] + raw[6:]))


def base64_encode_fromguid(g: Any) -> Any:
    return base64.b64encode(uuid.UUID(_text(g)).bytes_le).decode("ascii")


def base64_decode_tostring(s: Any) -> Any:
    return base64.b64decode(_text(s), validate=True).decode("utf-8")


def _stored(data: bytes) -> bytes:
    """Raw deflate stored blocks (no compression)."""
    out = bytearray()
    for start in range(0, max(len(data), 1), 65535):
        chunk = data[start : start + 65535]
        final = 1 if start + 65535 >= len(data) else 0
        out += bytes([final]) + struct.pack("<HH", len(chunk), len(chunk) ^ 0xFFFF) + chunk
    return bytes(out)


def gzip_compress_to_base64_string(s: Any) -> Any:
    """gzip with a zero mtime and OS 255, as the reference's output; data that deflate cannot shrink is stored."""
    data = _text(s).encode("utf-8")
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    raw = packer.compress(data) + packer.flush()
    if len(raw) >= len(data):
        raw = _stored(data)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    trailer = struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)
    return base64.b64encode(header + raw + trailer).decode("ascii")


def gzip_decompress_from_base64_string(s: Any) -> Any:
    return gzip.decompress(base64.b64decode(_text(s))).decode("utf-8")


def zlib_compress_to_base64_string(s: Any) -> Any:
    """zlib (window 15) with the reference's header (78 01); data that deflate cannot shrink is stored."""
    data = _text(s).encode("utf-8")
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    raw = packer.compress(data) + packer.flush()
    if len(raw) >= len(data):
        raw = _stored(data)
    return base64.b64encode(b"\x78\x01" + raw + struct.pack(">I", zlib.adler32(data))).decode("ascii")


def zlib_decompress_from_base64_string(s: Any) -> Any:
    return zlib.decompress(base64.b64decode(_text(s))).decode("utf-8")


def url_encode(s: Any) -> Any:
    out = quote(_text(s), safe="-_.!*'()").replace("%20", "+")
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), out)


def url_encode_component(s: Any) -> Any:
    """Like url_encode but a space is %20; hex digits in lower case as url_encode's (the page's %3a%2f)."""
    out = quote(_text(s), safe="-_.!~*'()")
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), out)


def url_decode(s: Any) -> Any:
    return unquote_plus(_text(s), errors="strict")


def parse_urlquery(s: Any) -> Any:
    text = _text(s)
    return {"Query Parameters": dict(parse_qsl(text.lstrip("?"), keep_blank_values=True))}


def toguid(s: Any) -> Any:
    text = _text(s).strip()
    if not re.fullmatch(r"\{?[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}\}?", text):
        return None
    return str(uuid.UUID(text))


def _xml(node: ElementTree.Element) -> Any:
    attrs = {f"@{k}": v for k, v in node.attrib.items()}
    kids: dict[str, Any] = {}
    for child in node:
        value = _xml(child)
        if child.tag in kids:
            if not isinstance(kids[child.tag], list):
                kids[child.tag] = [kids[child.tag]]
            kids[child.tag].append(value)
        else:
            kids[child.tag] = value
    text = (node.text or "").strip()
    if not attrs and not kids:
        return text or None
    out: dict[str, Any] = {**attrs, **kids}
    if text:
        out["#text"] = text
    return out


def parse_xml(s: Any) -> Any:
    root = ElementTree.fromstring(_text(s))
    return {root.tag: _xml(root)}


_UNITS = ["Bytes", "KB", "MB", "GB", "TB", "PB", "EB"]


def format_bytes(size: Any, precision: int = 0, units: str = "", base: int = 1024) -> Any:
    value = float(size)
    b = int(base)
    if b not in (1000, 1024):
        return None
    names = ["Bytes", "KB", "MB", "GB", "TB", "PB", "EB"] if b == 1024 else _UNITS
    if units:
        idx = [u.lower() for u in names].index(str(units).lower())
    else:
        idx = 0
        while idx < len(names) - 1 and abs(value) >= b ** (idx + 1):
            idx += 1
    scaled = value / b**idx
    return f"{scaled:.{int(precision)}f} {names[idx]}"


def _ticks(span: timedelta) -> int:
    return (span // timedelta(microseconds=1)) * 10


def format_timespan(span: Any, fmt: Any) -> Any:
    if not isinstance(span, timedelta):
        return None
    ticks = _ticks(span)
    negative = ticks < 0
    ticks = abs(ticks)
    days, rest = divmod(ticks, 864_000_000_000)
    hours, rest = divmod(rest, 36_000_000_000)
    minutes, rest = divmod(rest, 600_000_000)
    seconds, frac = divmod(rest, 10_000_000)
    f = str(fmt)
    out: list[str] = ["-"] if negative else []
    i = 0
    while i < len(f):
        ch = f[i]
        j = i
        while j < len(f) and f[j] == ch:
            j += 1
        n = j - i
        if ch in "\"'":
            end = f.find(ch, i + 1)
            end = len(f) if end < 0 else end
            out.append(f[i + 1 : end])
            i = end + 1
            continue
        if ch == "\\" and i + 1 < len(f):
            out.append(f[i + 1])
            i += 2
            continue
        if ch == "d":
            out.append(str(days).zfill(n))
        elif ch in "hH":
            out.append(str(hours).zfill(n) if ch == "H" or n > 1 else str(hours % 12 or hours))
            if ch == "h" and n == 1:
                out[-1] = str(hours)
        elif ch == "m":
            out.append(str(minutes).zfill(n))
        elif ch == "s":
            out.append(str(seconds).zfill(n))
        elif ch == "f":
            out.append(str(frac).zfill(7)[:n])
        elif ch == "F":
            digits = str(frac).zfill(7)[:n].rstrip("0")
            if not digits and out and out[-1] == ".":
                out.pop()
            out.append(digits)
        else:
            out.append(f[i:j])
        i = j
    return "".join(out)


def strrep(value: Any, count: int, delimiter: Any = "") -> Any:
    n = int(count)
    if n < 0:
        return None
    return _text(delimiter).join([_text(value)] * n)


def sha_hex(name: str) -> Any:
    def run(value: Any) -> Any:
        return hashlib.new(name, _text(value).encode("utf-8")).hexdigest()

    return run


def replace_strings(text: Any, lookups: Any, replacements: Any) -> Any:
    """All lookups replaced in one pass, no overlaps; at a position the earlier lookup wins. A lookup that
    is not a string is ignored; a rewrite that is not a string keeps the matched text."""
    s = _text(text)
    finds = lookups if isinstance(lookups, list) else []
    reps = replacements if isinstance(replacements, list) else []
    pairs: list[tuple[str, str | None]] = []
    for i, f in enumerate(finds):
        if isinstance(f, str) and f:
            r = reps[i] if i < len(reps) else None
            pairs.append((f, r if isinstance(r, str) else None))
    claimed: list[tuple[int, int, str]] = []  # (start, end, rewrite): earlier lookups claim text first
    taken = [False] * len(s)
    for f, r in pairs:
        at = s.find(f)
        while at >= 0:
            end = at + len(f)
            if not any(taken[at:end]):
                claimed.append((at, end, f if r is None else r))
                for k in range(at, end):
                    taken[k] = True
                at = s.find(f, end)
            else:
                at = s.find(f, at + 1)
    out: list[str] = []
    pos = 0
    for start, end, rewrite in sorted(claimed):
        out.append(s[pos:start])
        out.append(rewrite)
        pos = end
    out.append(s[pos:])
    return "".join(out)


_TERM = re.compile(r"[^\W_]+")


def has_any_index(source: Any, lookups: Any) -> Any:
    if not isinstance(lookups, list):
        return None
    text = _text(source).lower()
    terms = set(_TERM.findall(text))
    for i, item in enumerate(lookups):
        needle = _text(item).lower()
        if not needle:
            continue
        if _TERM.fullmatch(needle):
            if needle in terms:
                return i
        elif needle in text:
            return i
    return -1


IMPLS: dict[str, Any] = {
    "hash_xxhash64": hash_xxhash64,
    "hash_many": hash_many,
    "hash_combine": hash_combine,
    "hash_crc32": hash_crc32,
    "hash_md5": sha_hex("md5"),
    "hash_sha1": sha_hex("sha1"),
    "hash_sha256": sha_hex("sha256"),
    "unicode_codepoints_from_string": unicode_codepoints_from_string,
    "unicode_codepoints_to_string": unicode_codepoints_to_string,
    "string_size": string_size,
    "strcmp": strcmp,
    "regex_quote": regex_quote,
    "indexof_regex": indexof_regex,
    "punycode_from_string": punycode_from_string,
    "punycode_to_string": punycode_to_string,
    "parse_version": parse_version,
    "base64_decode_toarray": base64_decode_toarray,
    "base64_encode_fromarray": base64_encode_fromarray,
    "base64_decode_toguid": base64_decode_toguid,
    "base64_encode_fromguid": base64_encode_fromguid,
    "base64_decode_tostring": base64_decode_tostring,
    "gzip_compress_to_base64_string": gzip_compress_to_base64_string,
    "gzip_decompress_from_base64_string": gzip_decompress_from_base64_string,
    "zlib_compress_to_base64_string": zlib_compress_to_base64_string,
    "zlib_decompress_from_base64_string": zlib_decompress_from_base64_string,
    "url_encode": url_encode,
    "url_encode_component": url_encode_component,
    "url_decode": url_decode,
    "parse_urlquery": parse_urlquery,
    "toguid": toguid,
    "parse_xml": parse_xml,
    "format_bytes": format_bytes,
    "format_timespan": format_timespan,
    "strrep": strrep,
    "replace_strings": replace_strings,
    "has_any_index": has_any_index,
}


def indexof(s: Any, lookup: Any, start: int = 0, length: int = -1, occurrence: int = 1) -> Any:
    text, needle = _text(s), _text(lookup)
    st, n, occ = int(start), int(length), int(occurrence)
    if st < 0:
        st = max(len(text) + st, 0)
    if n < -1 or occ < 1:
        return None
    if st > len(text):
        return -1
    # each further occurrence is looked for in a new window of `length` characters after the last one
    pos = st
    for i in range(occ):
        begin = pos if i == 0 else pos + 1
        stop = len(text) if n == -1 else min(len(text), begin + n)
        pos = text.find(needle, begin, stop)
        if pos < 0:
            return -1
    return pos


IMPLS["indexof"] = indexof


def parse_csv(s: Any) -> Any:
    """The first CSV record of the text (quotes, doubled quotes and newlines inside quotes)."""
    text = _text(s)
    out: list[str] = []
    field: list[str] = []
    quoted = False
    i = 0
    while i < len(text):
        ch = text[i]
        if quoted:
            if ch == '"' and text.startswith('""', i):
                field.append('"')
                i += 1
            elif ch == '"':
                quoted = False
            else:
                field.append(ch)
        elif ch == '"' and not field:
            quoted = True
        elif ch == ",":
            out.append("".join(field))
            field = []
        elif ch in "\r\n":
            break
        else:
            field.append(ch)
        i += 1
    out.append("".join(field))
    return out


def parse_command_line(s: Any, kind: Any = "windows") -> Any:
    """Windows command-line splitting (CommandLineToArgvW rules: quotes, backslashes before quotes)."""
    text = _text(s)
    args: list[str] = []
    cur: list[str] = []
    in_arg = quoted = False
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in " \t" and not quoted:
            if in_arg:
                args.append("".join(cur))
                cur, in_arg = [], False
            i += 1
            continue
        in_arg = True
        if ch == "\\":
            j = i
            while j < len(text) and text[j] == "\\":
                j += 1
            count = j - i
            if j < len(text) and text[j] == '"':
                cur.append("\\" * (count // 2))
                if count % 2:
                    cur.append('"')
                    j += 1
            else:
                cur.append("\\" * count)
            i = j
            continue
        if ch == '"':
            if quoted and text.startswith('""', i):
                cur.append('"')
                i += 2
                continue
            quoted = not quoted
            i += 1
            continue
        cur.append(ch)
        i += 1
    if in_arg:
        args.append("".join(cur))
    return args


IMPLS["parse_csv"] = parse_csv
IMPLS["parse_command_line"] = parse_command_line


def extract_all(pattern: Any, groups: Any, text: Any = None) -> Any:
    """extract_all(regex, [groups,] text): every match, as its groups; groups by number or by name."""
    if text is None and not isinstance(groups, list):
        text, groups = groups, None
    rx = re.compile(_text(pattern))
    picks: list[int | str] = []
    for g in groups if isinstance(groups, list) else []:
        picks.append(g if isinstance(g, str) else int(g))
    out: list[Any] = []
    for m in rx.finditer(_text(text)):
        if picks:
            out.append([m.group(g) for g in picks])
        elif rx.groups > 1:
            out.append(list(m.groups()))
        else:
            out.append(m.group(rx.groups))
    return out or None


IMPLS["extract_all"] = extract_all


def translate(search: Any, replace: Any, source: Any) -> Any:
    """Each character of `search` in `source` becomes the character at the same place in `replace` (its
    last character when `replace` is shorter); with an empty `replace` the characters are removed."""
    find, rep, text = _text(search), _text(replace), _text(source)
    if not rep:
        return "".join(ch for ch in text if ch not in find)
    table = {ch: rep[min(i, len(rep) - 1)] for i, ch in reversed(list(enumerate(find)))}
    return "".join(table.get(ch, ch) for ch in text)


IMPLS["translate"] = translate


def countof(text: Any, search: Any, kind: Any = "normal") -> Any:
    """Occurrences of `search`: plain matches may overlap, regex matches do not."""
    s, needle = _text(text), _text(search)
    if str(kind).lower() == "regex":
        return len(re.findall(needle, s))
    if not needle:
        return 0
    count, at = 0, s.find(needle)
    while at >= 0:
        count += 1
        at = s.find(needle, at + 1)
    return count


IMPLS["countof"] = countof


def tohex(value: Any, min_length: Any = 0, kind: Any = "long") -> Any:
    """Hexadecimal text; negative ints are 32-bit two's complement, longs 64-bit; padded to min_length (<= 16)."""
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    v = int(value)
    if v < 0:
        v += 1 << (32 if kind == "int" else 64)
    width = min(max(int(min_length or 0), 0), 16)
    return format(v, "x").zfill(width)


IMPLS["tohex"] = tohex
