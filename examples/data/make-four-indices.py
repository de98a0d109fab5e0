#!/usr/bin/env python3
"""Writes four-indices.csv: the closing prices of the four shipped sample series (samples/series/) on the dates
all four have, oldest first, as a plain numeric CSV (a header of series names, one row per day) that a C program
reads with scanf. Columns are in the order of the shipped forecaster's features (models/lstm-p-sig-ramp-4-indices.h5).

Run from the repository root: python3 examples/data/make-four-indices.py
Tests/FlexCAPITests checks that the file still matches the samples.
"""
import csv, datetime, io, os

FEATURES = [("S&P_ASX All Australian 200", "S&P_ASX All Australian 200 Historical Data.csv"),
            ("FTSE 100", "FTSE 100.csv"), ("KOSPI", "KOSPI Historical Data.csv"), ("RTSI", "RTSI Historical Data.csv")]

def read(path):
    text = open(path, encoding="utf-8-sig", newline="").read().replace("\r\n", "\n").replace("\r", "\n")
    rows = list(csv.reader(io.StringIO(text)))
    out = {}
    for r in rows[1:]:
        if not r: continue
        day = datetime.datetime.strptime(r[0], "%b %d, %Y").date()
        out[day] = float(r[1].replace(",", ""))
    return out

series = [read(os.path.join("samples/series", f)) for _, f in FEATURES]
common = sorted(set.intersection(*(set(s) for s in series)))
with open("examples/data/four-indices.csv", "w", newline="\n") as f:
    f.write("date," + ",".join(n for n, _ in FEATURES) + "\n")
    for d in common:
        f.write(d.isoformat() + "," + ",".join(repr(s[d]) for s in series) + "\n")
