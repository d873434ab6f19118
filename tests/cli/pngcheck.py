#!/usr/bin/env python3
"""tests/cli/pngcheck.py — reads a PNG (8-bit gray, RGB or RGBA, not
interlaced: what Chromium's --screenshot writes) with the standard library
only, and says whether it is blank.

  pngcheck.py FILE                      prints "W H inked distinct" where
                                        inked is the share of pixels that
                                        are not the most common color
  pngcheck.py FILE --crop Y0 Y1 OUT     writes rows Y0..Y1 to OUT (RGB PNG)
"""
import struct
import sys
import zlib


def read_png(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit(f"{path}: not a PNG")
    pos, idat, w = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or ctype not in (0, 2, 6) or interlace:
                raise SystemExit(f"{path}: unsupported PNG (depth {depth}, color type {ctype})")
            bpp = {0: 1, 2: 3, 6: 4}[ctype]
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(h):
        f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pr) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


def pixels(w, bpp, row):
    for x in range(w):
        px = row[x * bpp:x * bpp + bpp]
        yield px[:3] if bpp >= 3 else px * 3


def write_png(path, w, rows):
    raw = b"".join(b"\x00" + r for r in rows)
    def chunk(k, b):
        return struct.pack(">I", len(b)) + k + b + struct.pack(">I", zlib.crc32(k + b) & 0xffffffff)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, len(rows), 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def main():
    w, h, bpp, rows = read_png(sys.argv[1])
    if len(sys.argv) > 2 and sys.argv[2] == "--crop":
        y0, y1 = int(sys.argv[3]), int(sys.argv[4])
        out = [b"".join(pixels(w, bpp, r)) for r in rows[y0:y1]]
        write_png(sys.argv[5], w, out)
        return
    counts = {}
    for r in rows[::2]:
        for px in list(pixels(w, bpp, r))[::2]:
            counts[px] = counts.get(px, 0) + 1
    total = sum(counts.values())
    top = max(counts.values())
    print(w, h, f"{(total - top) / total:.4f}", len(counts))


main()
