"""The numeric series functions that are impractical in SQL (decomposition, outliers, filters), as one DuckDB Python UDF."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable
from typing import Any

Series = list[float | None]
#: the UDF's SQL name: kql_series(function, series_json, args_json) -> json
UDF_NAME = "kql_series"


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)):
        return float(v)
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _finite(v: float | None) -> bool:
    return v is not None and math.isfinite(v)


def _missing(v: float | None, placeholder: Any) -> bool:
    if v is None:
        return True
    return placeholder is not None and v == _num(placeholder)


def stats(xs: Series, args: list[Any]) -> dict[str, Any] | None:
    """min, min_idx, max, max_idx, avg, stdev, variance (sample), sum, len; null when non-finite values exist
    unless ignore_nonfinite is true."""
    ignore = bool(args[0]) if args else False
    if not ignore and not all(_finite(v) for v in xs):
        return {
            k: None for k in ("min", "min_idx", "max", "max_idx", "avg", "stdev", "variance", "sum", "len")
        }
    pts = [(i, v) for i, v in enumerate(xs) if v is not None and math.isfinite(v)]
    if not pts:
        return {
            "min": None,
            "min_idx": None,
            "max": None,
            "max_idx": None,
            "avg": None,
            "stdev": None,
            "variance": None,
            "sum": 0.0,
            "len": len(xs),
        }
    values = [v for _, v in pts]
    lo, hi = min(values), max(values)
    n = len(values)
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
    return {
        "min": lo,
        "min_idx": next(i for i, v in pts if v == lo),
        "max": hi,
        "max_idx": next(i for i, v in pts if v == hi),
        "avg": mean,
        "stdev": math.sqrt(var),
        "variance": var,
        "sum": sum(values),
        "len": len(xs),
    }


def _line(ys: list[float]) -> tuple[float, float]:
    """Least squares y = slope * x + interception with x = 1..n (Kusto's convention)."""
    n = len(ys)
    if n == 0:
        return 0.0, 0.0
    if n == 1:
        return 0.0, ys[0]
    xm = (n + 1) / 2
    ym = sum(ys) / n
    sxx = sum((i + 1 - xm) ** 2 for i in range(n))
    sxy = sum((i + 1 - xm) * (y - ym) for i, y in enumerate(ys))
    slope = sxy / sxx
    return slope, ym - slope * xm


def fit_line(xs: Series, args: list[Any]) -> dict[str, Any]:
    ys = [v if v is not None else 0.0 for v in xs]
    n = len(ys)
    slope, icept = _line(ys)
    fit = [slope * (i + 1) + icept for i in range(n)]
    mean = sum(ys) / n if n else 0.0
    var = sum((y - mean) ** 2 for y in ys) / (n - 1) if n > 1 else 0.0
    rvar = sum((y - f) ** 2 for y, f in zip(ys, fit, strict=True)) / (n - 1) if n > 1 else 0.0
    ss_tot = sum((y - mean) ** 2 for y in ys)
    rsq = 1 - sum((y - f) ** 2 for y, f in zip(ys, fit, strict=True)) / ss_tot if ss_tot else 1.0
    return {
        "rsquare": rsq,
        "slope": slope,
        "variance": var,
        "rvariance": rvar,
        "interception": icept,
        "line_fit": fit,
    }


def _percentile(sorted_values: list[float], pct: float) -> float:
    """Linear interpolation between the closest ranks."""
    if len(sorted_values) == 1:
        return sorted_values[0]
    pos = (len(sorted_values) - 1) * pct / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def outliers(xs: Series, args: list[Any]) -> list[float]:
    """Tukey scores: (v - P_hi) / (P_hi - P_lo) above P_hi, (v - P_lo) / (P_hi - P_lo) below P_lo, else 0."""
    kind = str(args[0]).lower() if args and args[0] is not None else "ctukey"
    ignore = args[1] if len(args) > 1 else None
    lo_p = float(args[2]) if len(args) > 2 and args[2] is not None else 10.0
    hi_p = float(args[3]) if len(args) > 3 and args[3] is not None else 90.0
    if kind == "tukey":
        lo_p, hi_p = 25.0, 75.0
    elif kind != "ctukey":
        raise ValueError(f"series_outliers: unknown kind {kind!r} (tukey or ctukey)")
    elif not (2.0 <= lo_p <= 98.0 and 2.0 <= hi_p <= 98.0):
        raise ValueError(f"series_outliers: percentiles must be in [2.0, 98.0], not {lo_p:g} and {hi_p:g}")
    good = sorted(v for v in xs if not _missing(v, ignore) and v is not None and math.isfinite(v))
    if not good:
        return [0.0 for _ in xs]
    q_lo, q_hi = _percentile(good, lo_p), _percentile(good, hi_p)
    iqr = q_hi - q_lo
    out: list[float] = []
    for v in xs:
        if _missing(v, ignore) or v is None or iqr <= 0:
            out.append(0.0)
        elif v > q_hi:
            out.append((v - q_hi) / iqr)
        elif v < q_lo:
            out.append((v - q_lo) / iqr)
        else:
            out.append(0.0)
    return out


def detect_period(ys: list[float], threshold: float) -> int:
    """The period autodetected for decompose/seasonal: among lags of 4 bins up to a third of the series (so at
    least three whole cycles are seen) where the normalised autocorrelation peaks (a smooth series correlates
    with itself at every short lag; a period shows as a peak), the strongest one reaching `threshold`; else 0."""
    n = len(ys)
    if n < 12:
        return 0
    mean = sum(ys) / n
    d = [y - mean for y in ys]
    energy = sum(v * v for v in d)
    if energy == 0:
        return 0
    top = n // 3

    def acf(lag: int) -> float:
        return sum(d[i] * d[i + lag] for i in range(n - lag)) / energy * n / (n - lag)

    scores = {lag: acf(lag) for lag in range(3, top + 2)}
    best, best_score = 0, threshold
    for lag in range(4, top + 1):
        score = scores[lag]
        peak = score >= scores[lag - 1] and score >= scores[lag + 1]
        if peak and score >= best_score + 1e-12:
            best, best_score = lag, score
    return best


def decompose(xs: Series, args: list[Any]) -> dict[str, list[float]]:
    """baseline = seasonal (median per phase) + trend (avg | linefit | none) over the learning points; residual = x - baseline."""
    season = int(args[0]) if args and args[0] is not None else -1
    trend = str(args[1]).lower() if len(args) > 1 and args[1] is not None else "avg"
    test_points = int(args[2]) if len(args) > 2 and args[2] is not None else 0
    season_thr = float(args[3]) if len(args) > 3 and args[3] is not None else 0.6
    if trend not in ("avg", "linefit", "none"):
        raise ValueError(f"series_decompose: unknown trend {trend!r} (avg, linefit or none)")
    ys = [v if v is not None else 0.0 for v in xs]
    n = len(ys)
    learn = ys[: max(n - test_points, 0)]
    if season < 0:
        season = detect_period(learn, season_thr)
    seasonal = [0.0] * n
    if season > 1 and learn:
        base = learn
        if trend == "linefit":
            # a trend would leak into the per-phase medians (each phase's median sits at the middle cycle's
            # level, leaving a staircase a line cannot fit): take the phases' medians around a first line fit
            slope0, icept0 = _line(learn)
            base = [y - (slope0 * (i + 1) + icept0) for i, y in enumerate(learn)]
        medians = []
        for phase in range(season):
            vals = sorted(base[phase::season])
            m = len(vals)
            medians.append(
                0.0 if not m else (vals[m // 2] if m % 2 else (vals[m // 2 - 1] + vals[m // 2]) / 2)
            )
        seasonal = [medians[i % season] for i in range(n)]
    deseason = [y - s for y, s in zip(learn, seasonal, strict=False)]
    if trend == "avg":
        avg = sum(deseason) / len(deseason) if deseason else 0.0
        trend_s = [avg] * n
    elif trend == "linefit":
        slope, icept = _line(deseason)
        trend_s = [slope * (i + 1) + icept for i in range(n)]
    else:
        trend_s = [0.0] * n
    baseline = [s + t for s, t in zip(seasonal, trend_s, strict=True)]
    residual = [y - b for y, b in zip(ys, baseline, strict=True)]
    return {"baseline": baseline, "seasonal": seasonal, "trend": trend_s, "residual": residual}


def decompose_anomalies(xs: Series, args: list[Any]) -> dict[str, list[Any]]:
    """Decompose, score the residual with series_outliers; flag +1 / -1 where |score| > threshold."""
    threshold = float(args[0]) if args and args[0] is not None else 1.5
    season = args[1] if len(args) > 1 else -1
    trend = args[2] if len(args) > 2 else "avg"
    test_points = args[3] if len(args) > 3 else 0
    method = str(args[4]).lower() if len(args) > 4 and args[4] is not None else "ctukey"
    season_thr = args[5] if len(args) > 5 else 0.6
    if method not in ("ctukey", "tukey"):
        raise ValueError(f"series_decompose_anomalies: unknown method {method!r} (ctukey or tukey)")
    parts = decompose(xs, [season, trend, test_points, season_thr])
    residual: Series = list(parts["residual"])
    scores = outliers(residual, [method])
    flags = [1 if s > threshold else (-1 if s < -threshold else 0) for s in scores]
    return {"ad_flag": flags, "ad_score": scores, "baseline": parts["baseline"]}


def fill_forward(xs: Series, args: list[Any]) -> Series:
    placeholder = args[0] if args else None
    out: Series = []
    last: float | None = None
    for v in xs:
        if _missing(v, placeholder):
            out.append(last if last is not None else v)
        else:
            last = v
            out.append(v)
    return out


def fill_backward(xs: Series, args: list[Any]) -> Series:
    return list(reversed(fill_forward(list(reversed(xs)), args)))


def fill_linear(xs: Series, args: list[Any]) -> Series:
    """Linear interpolation between known points; edges take the nearest known value when fill_edges (default
    true); an array of missing values only is filled with constant_value (0 by default, null keeps them).
    (An array of whole numbers stays whole: kql_series truncates, _KEEPS_WHOLE.)"""
    placeholder = args[0] if args else None
    fill_edges = bool(args[1]) if len(args) > 1 and args[1] is not None else True
    const = _num(args[2]) if len(args) > 2 else 0.0
    known = [i for i, v in enumerate(xs) if not _missing(v, placeholder)]
    if not known:
        return [const for _ in xs]
    out: Series = list(xs)
    for a, b in itertools.pairwise(known):
        va, vb = xs[a], xs[b]
        assert va is not None and vb is not None
        for i in range(a + 1, b):
            out[i] = va + (vb - va) * (i - a) / (b - a)
    if fill_edges:
        for i in range(known[0]):
            out[i] = xs[known[0]]
        for i in range(known[-1] + 1, len(xs)):
            out[i] = xs[known[-1]]
    return out


def fir(xs: Series, args: list[Any]) -> Series | None:
    coeffs = [_num(c) or 0.0 for c in (args[0] or [])]
    negative = any(c < 0 for c in coeffs)
    normalize = bool(args[1]) if len(args) > 1 and args[1] is not None else not negative
    center = bool(args[2]) if len(args) > 2 and args[2] is not None else False
    if normalize:
        total = sum(coeffs)
        if negative or total == 0:
            return None
        coeffs = [c / total for c in coeffs]
    k = len(coeffs)
    shift = (k - 1) // 2 if center else 0
    ys = [v if v is not None else 0.0 for v in xs]
    out: Series = []
    for i in range(len(ys)):
        acc = 0.0
        for j, c in enumerate(coeffs):
            idx = i + shift - j
            if 0 <= idx < len(ys):
                acc += c * ys[idx]
        out.append(acc)
    return out


def iir(xs: Series, args: list[Any]) -> Series | None:
    b = [_num(c) or 0.0 for c in (args[0] or [])]
    a = [_num(c) or 0.0 for c in (args[1] or [])]
    if not a or a[0] == 0:
        return None
    ys = [v if v is not None else 0.0 for v in xs]
    out: list[float] = []
    for n in range(len(ys)):
        acc = sum(b[i] * ys[n - i] for i in range(len(b)) if n - i >= 0)
        acc -= sum(a[j] * out[n - j] for j in range(1, len(a)) if n - j >= 0)
        out.append(acc / a[0])
    return list(out)


def periods_detect(xs: Series, args: list[Any]) -> dict[str, list[float]]:
    """The single strongest period between min_period and max_period (autocorrelation), with its score."""
    lo = float(args[0]) if args and args[0] is not None else 2.0
    hi = float(args[1]) if len(args) > 1 and args[1] is not None else len(xs) / 2
    ys = [v if v is not None else 0.0 for v in xs]
    n = len(ys)
    mean = sum(ys) / n if n else 0.0
    d = [y - mean for y in ys]
    energy = sum(v * v for v in d)
    best, best_score = 0, 0.0
    if energy > 0:
        for lag in range(max(int(lo), 1), min(int(hi), n - 1) + 1):
            score = sum(d[i] * d[i + lag] for i in range(n - lag)) / energy * n / (n - lag)
            if score > best_score + 1e-12:
                best, best_score = lag, score
    return {"periods": [float(best)] if best else [], "scores": [min(best_score, 1.0)] if best else []}


def _fit(ys: list[float], xs: list[float]) -> tuple[float, float, list[float]]:
    """Least-squares line over (xs, ys): slope, interception, the fitted values."""
    n = len(ys)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx else 0.0
    icept = my - slope * mx
    return slope, icept, [slope * x + icept for x in xs]


def _var(vals: list[float]) -> float:
    n = len(vals)
    if n < 2:
        return 0.0
    m = sum(vals) / n
    return sum((v - m) ** 2 for v in vals) / (n - 1)


def _rsquare(ys: list[float], fit: list[float]) -> float:
    m = sum(ys) / len(ys)
    tot = sum((y - m) ** 2 for y in ys)
    res = sum((y - f) ** 2 for y, f in zip(ys, fit, strict=True))
    return 1.0 - res / tot if tot else 1.0


def fit_2lines(xs: Series, args: list[Any]) -> dict[str, Any] | None:
    """Two lines split where their total squared error is least (x = 1..n); each side has 2 points or more."""
    ys = [v if v is not None else 0.0 for v in xs]
    n = len(ys)
    if n < 4:
        return None
    idx = [float(i + 1) for i in range(n)]
    best: tuple[float, int] | None = None
    for k in range(2, n - 1):
        left, right = _fit(ys[:k], idx[:k]), _fit(ys[k:], idx[k:])
        err = sum((y - f) ** 2 for y, f in zip(ys, left[2] + right[2], strict=True))
        if best is None or err < best[0] - 1e-12:
            best = (err, k)
    assert best is not None
    k = best[1]
    (ls, li, lf), (rs, ri, rf) = _fit(ys[:k], idx[:k]), _fit(ys[k:], idx[k:])
    fit = lf + rf
    resid = [y - f for y, f in zip(ys, fit, strict=True)]
    return {
        "rsquare": _rsquare(ys, fit),
        "split_idx": k - 1,
        "variance": _var(ys),
        "rvariance": _var(resid),
        "line_fit": fit,
        "right_rsquare": _rsquare(ys[k:], rf),
        "right_slope": rs,
        "right_interception": ri,
        "right_variance": _var(ys[k:]),
        "right_rvariance": _var([y - f for y, f in zip(ys[k:], rf, strict=True)]),
        "left_rsquare": _rsquare(ys[:k], lf),
        "left_slope": ls,
        "left_interception": li,
        "left_variance": _var(ys[:k]),
        "left_rvariance": _var([y - f for y, f in zip(ys[:k], lf, strict=True)]),
    }


def fit_2lines_bag(xs: Series, args: list[Any]) -> dict[str, Any] | None:
    """series_fit_2lines_dynamic: the same fit as one bag, each side's line in its own `right` / `left` bag."""
    flat = fit_2lines(xs, args)
    if flat is None:
        return None
    out: dict[str, Any] = {}
    for key, value in flat.items():
        side, _, rest = key.partition("_")
        if side in ("right", "left"):
            out.setdefault(side, {})[rest] = value
        else:
            out[key] = value
    return out


def fit_poly(xs: Series, args: list[Any]) -> dict[str, Any] | None:
    """Polynomial least squares of the given degree (x = the second argument, or 1..n)."""
    import numpy as np

    ys = [v if v is not None else 0.0 for v in xs]
    xv = args[0] if args and isinstance(args[0], list) else [float(i + 1) for i in range(len(ys))]
    degree = int(args[1]) if len(args) > 1 and args[1] is not None else 1
    if not ys or len(xv) != len(ys) or not 1 <= degree <= 6:
        return None
    x = [_num(v) or 0.0 for v in xv]
    coeffs = np.polyfit(np.array(x), np.array(ys), degree)
    fit = [float(v) for v in np.polyval(coeffs, np.array(x))]
    return {
        "rsquare": _rsquare(ys, fit),
        "coefficients": [float(c) for c in coeffs],
        "variance": _var(ys),
        "rvariance": _var([y - f for y, f in zip(ys, fit, strict=True)]),
        "poly_fit": fit,
    }


def periods_validate(xs: Series, args: list[Any]) -> dict[str, list[float]]:
    """The autocorrelation score (0..1) of each given period (fractional periods interpolate two lags)."""
    ys = [v if v is not None else 0.0 for v in xs]
    n = len(ys)
    mean = sum(ys) / n if n else 0.0
    d = [y - mean for y in ys]
    energy = sum(v * v for v in d)

    def score(lag: int) -> float:
        if energy <= 0 or lag < 1 or lag >= n:
            return 0.0
        return sum(d[i] * d[i + lag] for i in range(n - lag)) / energy * n / (n - lag)

    periods = [float(p) for p in args if _num(p) is not None]
    scores = []
    for p in periods:
        lo = math.floor(p)
        frac = p - lo
        value = score(lo) if frac == 0 else (1 - frac) * score(lo) + frac * score(lo + 1)
        scores.append(round(min(max(value, 0.0), 1.0), 2))
    return {"periods": periods, "scores": scores}


def seasonal(xs: Series, args: list[Any]) -> list[float]:
    """The seasonal component (median per phase) for the given or detected period."""
    period = args[0] if args and args[0] is not None else -1
    return decompose(xs, [period, "none", 0, 0.7])["seasonal"]


def decompose_forecast(xs: Series, args: list[Any]) -> dict[str, list[float]]:
    """Decompose the learning points (all but the last `points`) and extend seasonal + trend over the rest."""
    points = int(args[0]) if args and args[0] is not None else 0
    season = args[1] if len(args) > 1 else -1
    trend = args[2] if len(args) > 2 and args[2] is not None else "linefit"
    season_thr = args[3] if len(args) > 3 else 0.6
    return decompose(xs, [season, trend, points, season_thr])


def fft(xs: Series, args: list[Any], inverse: bool = False) -> dict[str, list[float]] | None:
    import numpy as np

    imag = args[0] if args and isinstance(args[0], list) else [0.0] * len(xs)
    if len(imag) != len(xs):
        return None
    z = np.array([v or 0.0 for v in xs]) + 1j * np.array([_num(v) or 0.0 for v in imag])
    out = np.fft.ifft(z) if inverse else np.fft.fft(z)
    return {"real": [float(v) for v in out.real], "imag": [float(v) for v in out.imag]}


def ifft(xs: Series, args: list[Any]) -> dict[str, list[float]] | None:
    return fft(xs, args, inverse=True)


def _divide(a: float, b: float) -> float:
    try:
        return a / b
    except ZeroDivisionError:
        return math.nan  # a non-finite result: null in the JSON answer


def _power(a: float, b: float) -> float:
    try:
        return math.pow(a, b)
    except (ValueError, OverflowError):
        return math.nan


#: the element-wise series functions: (a, b) -> the result element (both present)
ELEMENT_WISE: dict[str, Callable[[float, float], float | bool]] = {
    "series_add": lambda a, b: a + b,
    "series_subtract": lambda a, b: a - b,
    "series_multiply": lambda a, b: a * b,
    "series_divide": _divide,
    "series_pow": _power,
    "series_greater": lambda a, b: a > b,
    "series_greater_equals": lambda a, b: a >= b,
    "series_less": lambda a, b: a < b,
    "series_less_equals": lambda a, b: a <= b,
    "series_equals": lambda a, b: a == b,
    "series_not_equals": lambda a, b: a != b,
}


def element_wise(name: str) -> Callable[[Series, list[Any]], Series | list[float | bool | None]]:
    """`series op other` element by element (args: other, and true when other is the left operand); other
    is a series or a scalar; the result has the longer length, a missing element gives null (the same
    answer as the SQL lowering on DuckDB, for engines without list lambdas)."""
    op = ELEMENT_WISE[name]

    def run(xs: Series, args: list[Any]) -> list[float | bool | None]:
        other = args[0] if args else None
        flipped = bool(args[1]) if len(args) > 1 else False
        ys = [_num(v) for v in other] if isinstance(other, list) else None
        scalar = None if isinstance(other, list) else _num(other)
        out: list[float | bool | None] = []
        for i in range(max(len(xs), len(ys)) if ys is not None else len(xs)):
            a = xs[i] if i < len(xs) else None
            b = (ys[i] if i < len(ys) else None) if ys is not None else scalar
            if flipped:
                a, b = b, a
            out.append(None if a is None or b is None else op(a, b))
        return out

    return run


SERIES_UDFS: dict[str, Callable[[Series, list[Any]], Any]] = {
    **{name: element_wise(name) for name in ELEMENT_WISE},
    "series_stats": stats,
    "series_fit_line": fit_line,
    "series_outliers": outliers,
    "series_decompose": decompose,
    "series_decompose_anomalies": decompose_anomalies,
    "series_fill_forward": fill_forward,
    "series_fill_backward": fill_backward,
    "series_fill_linear": fill_linear,
    "series_fir": fir,
    "series_iir": iir,
    "series_periods_detect": periods_detect,
    "series_fit_2lines": fit_2lines,
    "series_fit_2lines_dynamic": fit_2lines_bag,
    "series_fit_poly": fit_poly,
    "series_periods_validate": periods_validate,
    "series_seasonal": seasonal,
    "series_decompose_forecast": decompose_forecast,
    "series_fft": fft,
    "series_ifft": ifft,
}


def _clean(value: Any) -> Any:
    """JSON has no NaN/Infinity: non-finite numbers become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value


#: functions that keep an array of whole numbers whole (the reference: "preserves the original type of the
#: array elements"; its interpolated values are truncated: 73.5 -> 73)
_KEEPS_WHOLE = {"series_fill_linear"}


def _whole(data: list[Any]) -> bool:
    values = [v for v in data if v is not None]
    return bool(values) and all(isinstance(v, int) and not isinstance(v, bool) for v in values)


def kql_series(name: str, series: str | None, args: str) -> str | None:
    """The UDF body: parse the JSON series and arguments, run the table entry, return JSON (null for a null or
    non-array series, and when the entry answers null)."""
    if series is None:
        return None
    data = json.loads(series)
    if not isinstance(data, list):
        return None
    xs: Series = [_num(v) for v in data]
    result = SERIES_UDFS[name](xs, json.loads(args))
    if name in _KEEPS_WHOLE and isinstance(result, list) and _whole(data):
        result = [int(v) if isinstance(v, float) and math.isfinite(v) else v for v in result]
    return None if result is None else json.dumps(_clean(result))
