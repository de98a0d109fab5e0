#!/usr/bin/env python3
"""Independent reference for the FlexData series pipeline (Python standard library only: csv, datetime,
statistics, json).

Reads the four series of the paper's LSTM experiment from ../shared/data/indices (investing.com exports),
joins them on the dates all four markets traded (inner join), computes daily returns r_t = p_t / p_{t-1} - 1
and the per-feature population mean / standard deviation of the first 80% of the return rows, and writes
Tests/FlexDataTests/Fixtures/series/series_reference.json, which SeriesReferenceTests compares against.

Run from anywhere:  python3 Tests/FlexDataTests/Reference/series_reference.py
"""
import csv
import datetime
import json
import os
import statistics

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
DATA = os.path.normpath(os.path.join(REPO, "..", "shared", "data", "indices"))
OUT = os.path.join(REPO, "Tests", "FlexDataTests", "Fixtures", "series", "series_reference.json")

FILES = [
    ("S&P_ASX All Australian 200", "S&P_ASX All Australian 200 Historical Data.csv"),
    ("FTSE 100", "FTSE 100.csv"),
    ("KOSPI", "KOSPI Historical Data.csv"),
    ("RTSI", "RTSI Historical Data.csv"),
]
STATS_FRACTION = 0.8


def read_prices(path):
    """{date: price} from an investing.com export (BOM, any line ending, "7,542.44" prices)."""
    prices = {}
    # newline="" lets the csv module see \r, \n and \r\n line ends itself; utf-8-sig drops the BOM.
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = csv.reader(f)
        header = next(rows)
        assert header[:2] == ["Date", "Price"], header
        for row in rows:
            if not row:
                continue
            day = datetime.datetime.strptime(row[0], "%b %d, %Y").date()
            assert day not in prices, (path, day)
            prices[day] = float(row[1].replace(",", ""))
    return prices


def main():
    series = [(name, read_prices(os.path.join(DATA, file))) for name, file in FILES]
    common = sorted(set.intersection(*(set(p) for _, p in series)))
    prices = [[p[d] for _, p in series] for d in common]
    returns = [[prices[t][f] / prices[t - 1][f] - 1 for f in range(len(FILES))] for t in range(1, len(prices))]
    return_dates = common[1:]
    k = int(STATS_FRACTION * len(returns))
    columns = list(zip(*returns[:k]))
    reference = {
        "generator": "Tests/FlexDataTests/Reference/series_reference.py",
        "files": [file for _, file in FILES],
        "names": [name for name, _ in FILES],
        "rows_per_file": [len(p) for _, p in series],
        "aligned_rows": len(common),
        "dropped_rows": {name: len(p) - len(common) for name, p in series},
        "first_date": common[0].isoformat(),
        "last_date": common[-1].isoformat(),
        "first_prices": prices[0],
        "last_prices": prices[-1],
        "return_rows": len(returns),
        "first_returns": [{"date": d.isoformat(), "values": r} for d, r in zip(return_dates[:3], returns[:3])],
        "last_returns": [{"date": d.isoformat(), "values": r} for d, r in zip(return_dates[-3:], returns[-3:])],
        "statistics_rows": k,
        "mean": [statistics.fmean(c) for c in columns],
        "std": [statistics.pstdev(c) for c in columns],
    }
    with open(OUT, "w") as f:
        json.dump(reference, f, indent=1)
        f.write("\n")
    print(f"wrote {OUT}: {len(common)} common dates {common[0]} … {common[-1]}, {len(returns)} return rows")


if __name__ == "__main__":
    main()
