#!/usr/bin/env python3
"""Rebuilds scanner/data/oui.tsv from Debian's ieee-data (IEEE MA-L registry).

    apt-get install ieee-data && python3 scanner/tools/gen-oui.py

The scanner includes the file at build time; short names keep it small and
readable in a table (the registry's full names carry legal suffixes).
"""
import csv
import datetime
import os
import re
import sys

SRC = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/ieee-data/oui.csv"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "oui.tsv")

# Trailing words that say what kind of company it is, not which one.
SUFFIX = re.compile(
    r"[\s,.]*\b(co|corp|corporation|inc|incorporated|ltd|limited|llc|l\.l\.c|gmbh|ag|sa|s\.a|"
    r"spa|s\.p\.a|srl|s\.r\.l|bv|b\.v|nv|n\.v|oy|ab|as|a/s|kg|plc|pty|pte|sdn|bhd|kk|k\.k|"
    r"company|technology|technologies|tech|electronics|electronic|digital|international|"
    r"group|holdings|industrial|industries|communication|communications|network|networks|"
    r"systems|system|products|product|manufacturing|trading|enterprise|enterprises|"
    r"science|sciences|intelligent|intelligence|information|shenzhen|guangzhou|hangzhou|"
    r"innovation|innovations|zhejiang|beijing|shanghai|xiamen|jiangsu|suzhou|dongguan)\b[\s,.]*$",
    re.I,
)


# Leading place names that many registrants put before the brand.
PREFIX = re.compile(
    r"^(shenzhen|guangzhou|hangzhou|zhejiang|beijing|shanghai|xiamen|jiangsu|suzhou|"
    r"dongguan|ningbo|fujian|wuhan|chengdu|qingdao|nanjing|tianjin|zhuhai|foshan|"
    r"guangdong|hefei|sichuan|shandong|chongqing|huizhou|zhongshan)\s+(city\s+)?",
    re.I,
)


def short(name: str) -> str:
    name = " ".join(name.replace("\t", " ").split())
    stripped = PREFIX.sub("", name)
    if len(stripped) >= 2:
        name = stripped
    prev = None
    while prev != name:
        prev = name
        stripped = SUFFIX.sub("", name).strip(" ,.-&(")
        # Never strip a name down to nothing useful.
        if len(stripped) >= 2:
            name = stripped
    name = re.sub(r"\s*\(.*?\)\s*$", "", name) or name
    return name[:40].strip()


def main() -> None:
    rows = {}
    with open(SRC, newline="", encoding="utf-8", errors="replace") as f:
        for row in csv.DictReader(f):
            if row.get("Registry") != "MA-L":
                continue
            oui = row["Assignment"].strip().upper()
            if not re.fullmatch(r"[0-9A-F]{6}", oui):
                continue
            name = short(row["Organization Name"])
            if name:
                rows[oui] = name
    stamp = os.path.join(os.path.dirname(SRC), ".lastupdate")
    try:
        date = datetime.datetime.fromtimestamp(int(open(stamp).read().strip()), datetime.timezone.utc).date()
    except (OSError, ValueError):
        date = datetime.date.fromtimestamp(os.path.getmtime(SRC))
    with open(OUT, "w", encoding="utf-8") as out:
        out.write(f"# IEEE MA-L registry as of {date.isoformat()} ({len(rows)} entries), from Debian ieee-data; rebuilt by scanner/tools/gen-oui.py\n")
        for oui in sorted(rows):
            out.write(f"{oui}\t{rows[oui]}\n")
    print(f"{OUT}: {len(rows)} entries, registry {date}")


if __name__ == "__main__":
    main()
