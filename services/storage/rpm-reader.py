"""The long-lived RPM reader behind services/storage/rpm-reader.ts.

One JSON request per line on stdin: {"id": n, "path": "...", "href": "..." (optional)}.
One JSON answer per line on stdout, in the order asked:
  {"id": n, "header": <what `rpm -qp --qf QF` prints> | "headerError": "...",
            "parts": [primary, filelists, other] (when href was given) | "partsError": "..."}
QF is argv[1]; argv[2] is a private, empty rpmdb directory (Debian's rpm would otherwise create and lock
~/.rpmdb), which the reader removes when it ends, and its parent when the reader is killed. The libraries are the ones the tools are made of (librpm's headerFormat, the same
cr_xml_dump createrepo_c writes with); only their start-up is saved. Ends at the end of stdin, so a
parent that dies (kill -9 included) takes it along.
"""

import json
import os
import shutil
import sys

import createrepo_c as cr
import rpm

# Debian's createrepo_c default: ten changelog entries per package in other.xml
CHANGELOG_LIMIT = 10


def header_of(ts, path, qf):
    fd = os.open(path, os.O_RDONLY)
    try:
        return ts.hdrFromFdno(fd).format(qf)
    finally:
        os.close(fd)


def answer(ts, qf, req):
    out = {"id": req["id"]}
    path = req["path"]
    try:
        out["header"] = header_of(ts, path, qf)
    except Exception as e:  # a package rpm cannot read: its answer, not the reader's end
        out["headerError"] = str(e) or type(e).__name__
    if "href" in req:
        try:
            out["parts"] = list(cr.xml_from_rpm(path, cr.SHA256, req["href"], None, CHANGELOG_LIMIT))
        except Exception as e:
            out["partsError"] = str(e) or type(e).__name__
    return out


def main():
    qf, db = sys.argv[1], sys.argv[2]
    try:
        rpm.addMacro("_dbpath", db)
        ts = rpm.TransactionSet()
        for line in sys.stdin:
            print(json.dumps(answer(ts, qf, json.loads(line))), flush=True)
    finally:
        shutil.rmtree(db, ignore_errors=True)


if __name__ == "__main__":
    main()
