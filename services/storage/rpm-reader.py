"""The long-lived RPM reader behind services/storage/rpm-reader.ts.

One JSON request per line on stdin: {"id": n, "path": "...", "header": true|false, "href": "..." (optional)}.
One JSON answer per line on stdout, in the order asked:
  {"id": n, "header": <what `rpm -qp --qf QF` prints> | "headerError": "..." (unless header was false),
            "gzParts": [primary, filelists, other] | "partsError": "..." (when href was given)}
gzParts are createrepo_c's <package> elements, each one gzip member in base64: a distribution index is
their concatenation, so they are compressed here, once, beside the worker rather than on its thread.
QF is argv[1]; argv[2] is a private, empty rpmdb directory (Debian's rpm would otherwise create and lock
~/.rpmdb), which the reader removes when it ends, and its parent when the reader is killed. The libraries
are the ones the tools are made of (librpm's headerFormat, the same cr_xml_dump createrepo_c writes
with); only their start-up is saved. Ends at the end of stdin, so a parent that dies (kill -9 included)
takes it along.
"""

import base64
import json
import os
import shutil
import sys
import zlib

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


def gzip_member(text):
    data = text.encode("utf-8")
    # most elements are under 4 KiB, which a 4 KiB window compresses as well as the default 32 KiB one
    small = len(data) <= 4096
    c = zlib.compressobj(6, zlib.DEFLATED, 16 + (12 if small else 15), 6 if small else 8)
    return base64.b64encode(c.compress(data) + c.flush()).decode("ascii")


def answer(ts, qf, req):
    out = {"id": req["id"]}
    path = req["path"]
    if req.get("header", True):
        try:
            out["header"] = header_of(ts, path, qf)
        except Exception as e:  # a package rpm cannot read: its answer, not the reader's end
            out["headerError"] = str(e) or type(e).__name__
    if "href" in req:
        try:
            parts = cr.xml_from_rpm(path, cr.SHA256, req["href"], None, CHANGELOG_LIMIT)
            out["gzParts"] = [gzip_member(p) for p in parts]
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
