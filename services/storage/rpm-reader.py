"""The long-lived RPM reader behind services/storage/rpm-reader.ts.

One JSON request per line on stdin:
  {"id": n, "path": "...", "header": true|false, "href": "..." (optional), "sha256": "..." (optional)}.
One JSON answer per line on stdout, in the order asked:
  {"id": n, "header": <what `rpm -qp --qf QF` prints> | "headerError": "..." (unless header was false),
            "gzParts": [primary, filelists, other] | "partsError": "..." (when href was given)}
gzParts are createrepo_c's <package> elements, each one gzip member in base64: a distribution index is
their concatenation, so they are compressed here, once, beside the worker rather than on its thread.
Given the package's sha256 (the blob store's name for it, checked as it arrived), only its lead and
headers are read: createrepo_c would otherwise read the whole package once more for its checksum.
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
import struct
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


LEAD_BYTES = 96
HEADER_MAGIC = b"\x8e\xad\xe8"


def header_bytes(fd, offset):
    """The size of the rpm header structure at offset: 16 bytes of intro, 16 per index entry, then its data."""
    intro = os.pread(fd, 16, offset)
    if len(intro) < 16 or intro[:3] != HEADER_MAGIC:
        raise ValueError("no rpm header where one belongs")
    entries, data = struct.unpack(">II", intro[8:16])
    return 16 + entries * 16 + data


def lead_and_headers(path):
    """The package's bytes up to its payload (lead, signature header padded to 8, header) and its stat."""
    fd = os.open(path, os.O_RDONLY)
    try:
        st = os.fstat(fd)
        sig = header_bytes(fd, LEAD_BYTES)
        end = LEAD_BYTES + sig + (-sig % 8)
        end += header_bytes(fd, end)
        # sizes are the package's own word: nothing past its end is asked for
        if end > st.st_size:
            raise ValueError("the package ends inside its header")
        return os.pread(fd, end, 0), st
    finally:
        os.close(fd)


class Heads:
    """One memory file, rewritten for each package: createrepo_c reads the headers from it, and the checksum of
    its few KiB is replaced by the one given."""

    def __init__(self):
        self.fd = os.memfd_create("rpm-head")
        self.path = f"/proc/self/fd/{self.fd}"

    def elements(self, path, href, sha256):
        try:
            head, st = lead_and_headers(path)
            os.ftruncate(self.fd, 0)
            os.pwrite(self.fd, head, 0)
            pkg = cr.package_from_rpm(self.path, cr.SHA256, href, None, CHANGELOG_LIMIT)
        except Exception:
            # what the package lacks is said by createrepo_c in its own words, naming the package
            return cr.xml_from_rpm(path, cr.SHA256, href, None, CHANGELOG_LIMIT)
        pkg.pkgId = sha256
        pkg.size_package = st.st_size
        pkg.time_file = int(st.st_mtime)
        return cr.xml_dump(pkg)


def gzip_member(text):
    data = text.encode("utf-8")
    # most elements are under 4 KiB, which a 4 KiB window compresses as well as the default 32 KiB one
    small = len(data) <= 4096
    c = zlib.compressobj(6, zlib.DEFLATED, 16 + (12 if small else 15), 6 if small else 8)
    return base64.b64encode(c.compress(data) + c.flush()).decode("ascii")


def answer(ts, heads, qf, req):
    out = {"id": req["id"]}
    path = req["path"]
    if req.get("header", True):
        try:
            out["header"] = header_of(ts, path, qf)
        except Exception as e:  # a package rpm cannot read: its answer, not the reader's end
            out["headerError"] = str(e) or type(e).__name__
    if "href" in req:
        try:
            if "sha256" in req:
                parts = heads.elements(path, req["href"], req["sha256"])
            else:
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
        heads = Heads()
        for line in sys.stdin:
            print(json.dumps(answer(ts, heads, qf, json.loads(line))), flush=True)
    finally:
        shutil.rmtree(db, ignore_errors=True)


if __name__ == "__main__":
    main()
