#!/usr/bin/env python3
"""Bjøntegaard delta rate (BD-rate): the average bitrate difference of a test codec against an anchor for the
same quality, over the quality range both curves cover (G. Bjøntegaard, "Calculation of average PSNR differences
between RD-curves", VCEG-M33, 2001; the usual implementation, as in VCEG-M33's spreadsheet and CompressAI's
plotting utilities):

  1. for each codec, fit log(rate) as a cubic polynomial of PSNR through its (PSNR, rate) points
     (least squares; exact when the codec has four points);
  2. integrate both polynomials over the common PSNR interval [max(min PSNRs), min(max PSNRs)];
  3. the mean difference of log(rate) over that interval, d, gives BD-rate = exp(d) - 1
     (negative: the test codec needs fewer bits for the same PSNR).

Rates may be in any unit (bpp here) as long as both curves use the same one. Points must have distinct PSNRs;
each curve needs at least 4 points. Python standard library + numpy.

    python3 benchmarks/bd_rate.py --self-test
"""

import math
import sys

import numpy as np


def bd_rate(anchor, test):
    """anchor, test: sequences of (rate, psnr) pairs. Returns (bd_rate as a fraction, (psnr_lo, psnr_hi))."""
    if len(anchor) < 4 or len(test) < 4:
        raise ValueError(f"BD-rate needs at least 4 points per curve (anchor {len(anchor)}, test {len(test)})")
    ra = np.log([r for r, _ in anchor]); pa = np.array([p for _, p in anchor], float)
    rt = np.log([r for r, _ in test]); pt = np.array([p for _, p in test], float)
    lo, hi = max(pa.min(), pt.min()), min(pa.max(), pt.max())
    if not hi > lo:
        raise ValueError(f"the curves share no PSNR range (anchor {pa.min():.2f}-{pa.max():.2f} dB, "
                         f"test {pt.min():.2f}-{pt.max():.2f} dB)")
    fa = np.polyint(np.polyfit(pa, ra, 3))
    ft = np.polyint(np.polyfit(pt, rt, 3))
    ia = np.polyval(fa, hi) - np.polyval(fa, lo)
    it = np.polyval(ft, hi) - np.polyval(ft, lo)
    return math.exp((it - ia) / (hi - lo)) - 1, (float(lo), float(hi))


def _self_test():
    anchor = [(0.25, 28.0), (0.5, 31.0), (1.0, 34.0), (2.0, 37.0)]
    # The same curve: 0.
    assert abs(bd_rate(anchor, anchor)[0]) < 1e-12
    # Every rate times 0.8 at the same PSNR: exactly -20% (log-rate shifted by a constant).
    scaled = [(r * 0.8, p) for r, p in anchor]
    assert abs(bd_rate(anchor, scaled)[0] + 0.2) < 1e-9, bd_rate(anchor, scaled)
    # And the other way round: 1/0.8 - 1 = +25%.
    assert abs(bd_rate(scaled, anchor)[0] - 0.25) < 1e-9
    # A test curve 1 dB better everywhere on a line of slope 3 dB per doubling: 2^(-1/3) - 1.
    better = [(r, p + 1.0) for r, p in anchor]
    assert abs(bd_rate(anchor, better)[0] - (2 ** (-1 / 3) - 1)) < 1e-9, bd_rate(anchor, better)
    # No overlap is an error, not a number.
    try:
        bd_rate(anchor, [(r, p + 20) for r, p in anchor])
        raise AssertionError("expected an error")
    except ValueError:
        pass
    print("bd_rate: self-test passed")


if __name__ == "__main__":
    if sys.argv[1:] == ["--self-test"]:
        _self_test()
    else:
        print(__doc__)
