#!/usr/bin/env python3
"""Checks an nnprobe-paper report directory: report.json's structure and its internal
consistency (the transfer matrix's diagonal is each model's own adversarial error, the noise
rows use the stated stddev, every table and figure is there). Python standard library only.

Usage: check-paper-report.py REPORT_DIR   (exit 0: every check passed; 1: prints each failure)
"""
import json
import math
import os
import sys

TABLES = {  # id: (rows, columns) expected
    "table1": (6, 5), "table2": (8, 7), "distortion_hist": (12, 6), "table3": (3, 4),
    "table4": (8, 4), "units": (None, 1), "zhang": (None, 3), "zhang_final": (3, 2),
    "advtrain": (3, 3),
}
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
    return cond


def close(a, b, tol=1e-9):
    return a is not None and b is not None and abs(a - b) <= tol


def main(out):
    with open(os.path.join(out, "report.json"), encoding="utf-8") as f:
        rep = json.load(f)
    for key in ("program", "library_version", "settings", "data", "models", "seconds",
                "tables", "findings", "figures", "charts", "chart_note"):
        check(key in rep, f"missing key {key}")
    s, d, t = rep["settings"], rep["data"], rep["tables"]
    check(isinstance(s.get("seed"), int), "settings.seed")
    check(s.get("noise_sigmas") == [0.1, 0.3], "settings.noise_sigmas")
    for k in ("train_checksum", "test_checksum"):
        check(str(d.get(k, "")).startswith("fnv1a64:"), f"data.{k}")
    check(len(d.get("classes", [])) == 10, "ten class names")
    check("table5" in t, "table5 missing")
    for tid, (nr, nc) in TABLES.items():
        if not check(tid in t, f"table {tid} missing"):
            continue
        tab = t[tid]
        check(len(tab["columns"]) == nc and len(tab["formats"]) == nc, f"{tid}: columns")
        check(nr is None or len(tab["rows"]) == nr, f"{tid}: {len(tab['rows'])} rows")
        check(len(tab["values"]) == len(tab["rows"]) == len(tab["paper"]), f"{tid}: shapes")
        for r, row in enumerate(tab["values"]):
            for c, v in enumerate(row):
                if tab["formats"][c] == "p":
                    check(v is not None and 0 <= v <= 1, f"{tid}[{r}][{c}] = {v} not a rate")
    if failures:
        return
    t1, t2, t4 = t["table1"], t["table2"], t["table4"]
    n = s["attacked"]
    for i in range(6):
        check(close(t2["values"][i][i], t1["values"][i][2]),
              f"table2 diagonal {i}: {t2['values'][i][i]} != table1 adv. error {t1['values'][i][2]}")
        check(close(t2["values"][i][6], t1["values"][i][3]), f"table2 distortion row {i}")
        check(t1["values"][i][4] == n, f"table1 attacked {i}")
        check(t1["paper"][i][1] is not None, f"table1 paper test error {i}")
        # error rates over n examples are multiples of 1/n
        check(abs(t1["values"][i][2] * n - round(t1["values"][i][2] * n)) < 1e-6, f"table1 rate {i}")
    for j, sigma in enumerate(s["noise_sigmas"]):
        row = t2["rows"][6 + j]
        check(f"stddev={sigma:g}" in row, f"table2 noise row '{row}' does not state {sigma}")
        dist = t2["values"][6 + j][6]
        check(0.5 * sigma <= dist <= sigma + 1e-9, f"noise {sigma}: measured RMS {dist}")
        check(t2["paper"][6 + j][6] == sigma, f"table2 noise row {j}: paper sigma")
    for j, sigma in ((3, 0.06), (7, 0.1)):
        check(f"stddev={sigma:g}" in t4["rows"][j], f"table4 noise row {j}")
        check(0.5 * sigma <= t4["values"][j][3] <= sigma + 1e-9, f"table4 noise RMS {j}")
    for j in range(4, 7):
        check("amplified to RMS 0.1" in t4["rows"][j], f"table4 row {j} name")
        check(t4["values"][j][3] <= 0.1 + 1e-6, f"table4 amplified RMS {t4['values'][j][3]}")
    for k in range(6):
        col = [row[k] for row in t["distortion_hist"]["values"]]
        check(sum(col) == 0 or abs(sum(col) - 1) < 1e-9, f"histogram {k} sums to {sum(col)}")
    t5 = t["table5"]
    for r, (b, e, lo, gap) in enumerate(t5["values"]):
        check(b >= e * (1 - 1e-6) and e >= lo * (1 - 1e-4), f"table5 row {r}: {b} {e} {lo}")
        check(close(gap, b / lo, 1e-9 * max(1, gap)), f"table5 gap {r}")
    check(len(rep["findings"]) >= 11, "findings")
    for f in rep["findings"]:
        check(isinstance(f.get("held"), bool) and f.get("text"), f"finding {f}")
    check(len(rep["figures"]) >= 8, f"{len(rep['figures'])} figures")
    for fig in rep["figures"] + rep["charts"]:
        p = os.path.join(out, fig["file"])
        check(os.path.isfile(p) and open(p, "rb").read(4) == b"\x89PNG", f"figure {fig['file']}")
    for name in ("report.md", "report.html"):
        check(os.path.getsize(os.path.join(out, name)) > 1000, f"{name} too small")
    html = open(os.path.join(out, "report.html"), encoding="utf-8").read()
    check(html.count("data:image/png;base64,") == len(rep["figures"]) + len(rep["charts"]),
          "report.html does not embed every figure")
    md = open(os.path.join(out, "report.md"), encoding="utf-8").read()
    for tid in TABLES:
        check(t[tid]["title"] in md, f"report.md lacks {tid}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    try:
        main(sys.argv[1])
    except (OSError, ValueError, KeyError, TypeError, IndexError) as e:
        failures.append(f"{type(e).__name__}: {e}")
    for f in failures:
        print("FAIL:", f)
    sys.exit(1 if failures else 0)
