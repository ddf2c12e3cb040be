"""Bounds on one search query (nesting depth, regex complexity), each a 400 that names the bound."""

from __future__ import annotations

from dataclasses import dataclass

from huntvault.config import SearchConfig
from huntvault.errors import SearchError

#: nesting of parentheses and unary operators in `search`, `$filter` and regexes; fixed (not a setting)
#: because past it the parsers would run out of stack
MAX_DEPTH = 48
#: the largest `{m,n}` count a regex may use
MAX_REPEAT = 1000


def bound_error(what: str, limit: int | float, parameter: str, setting: str = "") -> SearchError:
    """Azure's 400 for a query past one of our bounds, naming the bound (and its setting, if any)."""
    named = f" (setting {setting})" if setting else ""
    return SearchError(f"{what}: the limit is {limit:g}{named}.\r\nParameter name: {parameter}")


def check_depth(depth: int, parameter: str) -> None:
    if depth > MAX_DEPTH:
        raise bound_error("The query is nested too deeply", MAX_DEPTH, parameter)


@dataclass
class RegexCost:
    """A regex's size (atoms) and unbounded repetitions, counted with `{m,n}` repetitions expanded."""

    size: int = 0
    unbounded: int = 0

    def add(self, other: RegexCost) -> None:
        self.size += other.size
        self.unbounded += other.unbounded


def _class_end(p: str, i: int) -> int:
    """Index after the `[...]` class opening at p[i] (nested `[:alpha:]`-style classes and escapes)."""
    j, n, depth = i + 1, len(p), 1
    if j < n and p[j] == "^":
        j += 1
    if j < n and p[j] == "]":
        j += 1
    while j < n and depth:
        if p[j] == "\\":
            j += 2
            continue
        if p[j] == "[":
            depth += 1
        elif p[j] == "]":
            depth -= 1
        j += 1
    return j


def _repeat(p: str, i: int) -> tuple[int, int | None, int] | None:
    """`{m}`, `{m,}` or `{m,n}` at p[i]: (m, n or None for unbounded, index after it); None if not one."""
    end = p.find("}", i)
    if end < 0:
        return None
    low, comma, high = p[i + 1 : end].partition(",")
    if not low.strip().isdigit() or (high.strip() and not high.strip().isdigit()):
        return None
    m = int(low)
    n = None if comma and not high.strip() else int(high) if comma else m
    return m, n, end + 1


def regex_cost(pattern: str, parameter: str = "search") -> RegexCost:
    """Size and unbounded repetitions of a regex, scanned without recursion (a group nests a frame)."""
    frames: list[list[list[RegexCost]]] = [[[]]]  # group -> alternatives -> items
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        items = frames[-1][-1]
        if c == "\\":
            j = i + 2
            if j <= n and pattern[i + 1 : j] in ("p", "P") and j < n and pattern[j] == "{":
                j = pattern.find("}", j) + 1 or n
            items.append(RegexCost(1))
            i = j
            continue
        if c == "[":
            items.append(RegexCost(1))
            i = _class_end(pattern, i)
            continue
        if c == "(":
            frames.append([[]])
            check_depth(len(frames), parameter)
        elif c == ")" and len(frames) > 1:
            group = RegexCost()
            for alt in frames.pop():
                for item in alt:
                    group.add(item)
            frames[-1][-1].append(group)
        elif c == "|":
            frames[-1].append([])
        elif c in "*+?" and items:
            if c != "?":
                items[-1].unbounded += 1
        elif c == "{" and items and (rep := _repeat(pattern, i)) is not None:
            low, high, i = rep
            count = high if high is not None else max(low, 1)
            if count > MAX_REPEAT:
                raise bound_error("A regular expression repeats more than allowed", MAX_REPEAT, parameter)
            items[-1].size *= max(count, 1)
            items[-1].unbounded *= max(count, 1)
            if high is None:
                items[-1].unbounded += 1
            continue
        else:
            items.append(RegexCost(1))
        i += 1
    total = RegexCost()
    for frame in frames:
        for alt in frame:
            for item in alt:
                total.add(item)
    return total


def check_regex(pattern: str, limits: SearchConfig, parameter: str = "search") -> None:
    """400 for a regex (or a wildcard turned into one) past the length, size or repetition bounds."""
    if len(pattern) > limits.max_regex_chars:
        raise bound_error(
            "A regular expression is too long", limits.max_regex_chars, parameter, "search.max_regex_chars"
        )
    cost = regex_cost(pattern, parameter)
    if cost.unbounded > limits.max_regex_unbounded:
        raise bound_error(
            f"A regular expression has {cost.unbounded} unbounded repetitions (*, +, {{n,}}) once its "
            "counted repetitions are expanded",
            limits.max_regex_unbounded,
            parameter,
            "search.max_regex_unbounded",
        )
    if cost.size > limits.max_regex_size:
        raise bound_error(
            f"A regular expression has {cost.size} atoms once its counted repetitions are expanded",
            limits.max_regex_size,
            parameter,
            "search.max_regex_size",
        )
