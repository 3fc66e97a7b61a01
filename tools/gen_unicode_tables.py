#!/usr/bin/python3
"""Generates include/foundry/text/unicode_tables.hpp from Python's unicodedata.

The BERT tokenizer must agree with Hugging Face's Python BertTokenizer, which asks `unicodedata`
(and `str.lower`, `str.isspace`) of the Python that runs it. So the tables are taken from the same
source instead of from the UCD files: general-category properties packed into runs, the lowercase
mapping as strided delta ranges, combining classes as ranges, canonical decompositions and the
primary composites that NFC needs. Before writing, the script re-derives lower/NFD/NFC for
every code point (and for random strings) from the tables alone and checks them against Python.

Usage: /usr/bin/python3 tools/gen_unicode_tables.py [output.hpp]
"""
import os
import random
import sys
import unicodedata as ud

N = 0x110000
# Property bits; keep in sync with foundry::text::unicode::Property.
CONTROL, WHITESPACE, SPACE, PUNCT, MN, CHINESE, INERT = 1, 2, 4, 8, 16, 32, 64
HANGUL_S, HANGUL_L, HANGUL_V, HANGUL_T, HANGUL_N, HANGUL_TN, HANGUL_SN = 0xAC00, 0x1100, 0x1161, 0x11A7, 588, 28, 11172

# The CJK ranges of HF's BasicTokenizer._is_chinese_char (not a Unicode property).
CHINESE_RANGES = [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
                  (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)]


def canonical_decomposition(cp):
    d = ud.decomposition(chr(cp))
    if not d or d.startswith("<"):
        return None
    return [int(x, 16) for x in d.split()]


def build():
    decomp = {}
    for cp in range(N):
        d = canonical_decomposition(cp)
        if d is not None:
            assert 1 <= len(d) <= 2, hex(cp)
            decomp[cp] = d
    # A two-part decomposition composes back unless the code point is excluded from composition.
    exclusions = sorted(cp for cp, d in decomp.items() if len(d) == 2 and ud.normalize("NFC", chr(cp)) != chr(cp))
    seconds = {d[1] for cp, d in decomp.items() if len(d) == 2 and cp not in exclusions}
    seconds |= set(range(HANGUL_V, HANGUL_V + 21)) | set(range(HANGUL_T + 1, HANGUL_T + HANGUL_TN))

    def props(cp):
        c, cat = chr(cp), ud.category(chr(cp))
        f = 0
        if cat[0] == "C" and c not in "\t\n\r":
            f |= CONTROL
        if c in " \t\n\r" or cat == "Zs":
            f |= WHITESPACE
        if c.isspace():
            f |= SPACE
        if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126 or cat[0] == "P":
            f |= PUNCT
        if cat == "Mn":
            f |= MN
        if any(a <= cp <= b for a, b in CHINESE_RANGES):
            f |= CHINESE
        if cp not in decomp and not (HANGUL_S <= cp < HANGUL_S + HANGUL_SN) and ud.combining(c) == 0 and cp not in seconds:
            f |= INERT
        return f

    runs, prev = [], None
    for cp in range(N):
        f = props(cp)
        if f != prev:
            runs.append((cp, f))
            prev = f

    lower_special, lower = {}, []
    for cp in range(N):
        low = chr(cp).lower()
        if low == chr(cp):
            continue
        if len(low) > 1:
            lower_special[cp] = [ord(x) for x in low]
            continue
        delta = ord(low) - cp
        if lower:
            first, last, d, stride = lower[-1]
            step = cp - last
            if d == delta and step in (1, 2) and (first == last or stride == step):
                lower[-1] = (first, cp, d, step)
                continue
        lower.append((cp, cp, delta, 1))

    ccc, prev = [], 0
    for cp in range(N):
        k = ud.combining(chr(cp))
        if k and k == prev and ccc[-1][1] == cp - 1:
            ccc[-1] = (ccc[-1][0], cp, k)
        elif k:
            ccc.append((cp, cp, k))
        prev = k
    return runs, lower, lower_special, ccc, decomp, exclusions


class Model:
    """The algorithms of unicode.hpp, driven only by the tables, to check them against Python."""

    def __init__(self, runs, lower, lower_special, ccc, decomp, exclusions):
        self.lower_map = dict(lower_special)
        for first, last, delta, stride in lower:
            for cp in range(first, last + 1, stride):
                self.lower_map[cp] = [cp + delta]
        self.ccc = {}
        for first, last, k in ccc:
            for cp in range(first, last + 1):
                self.ccc[cp] = k
        self.decomp = decomp
        self.compose = {tuple(d): cp for cp, d in decomp.items() if len(d) == 2 and cp not in set(exclusions)}

    def nfd_char(self, cp, out):
        if HANGUL_S <= cp < HANGUL_S + HANGUL_SN:
            s = cp - HANGUL_S
            out += [HANGUL_L + s // (21 * 28), HANGUL_V + (s % (21 * 28)) // 28]
            if s % 28:
                out.append(HANGUL_T + s % 28)
        elif cp in self.decomp:
            for x in self.decomp[cp]:
                self.nfd_char(x, out)
        else:
            out.append(cp)

    def nfd(self, cps):
        out = []
        for cp in cps:
            self.nfd_char(cp, out)
        # Canonical ordering: a stable sort of each run of non-starters by combining class.
        i = 0
        while i < len(out):
            if self.ccc.get(out[i], 0) == 0:
                i += 1
                continue
            j = i
            while j < len(out) and self.ccc.get(out[j], 0) != 0:
                j += 1
            out[i:j] = sorted(out[i:j], key=lambda c: self.ccc[c])
            i = j
        return out

    def nfc(self, cps):
        d = self.nfd(cps)
        out, starter, last_ccc = [], -1, 0
        for cp in d:
            k = self.ccc.get(cp, 0)
            # C composes with the last starter unless a character between them blocks it: one with class
            # 0 (it would have become the starter) or with a class >= C's.
            if starter >= 0 and (len(out) - 1 == starter or last_ccc < k):
                a = out[starter]
                composed = None
                if HANGUL_L <= a < HANGUL_L + 19 and HANGUL_V <= cp < HANGUL_V + 21:
                    composed = HANGUL_S + ((a - HANGUL_L) * 21 + cp - HANGUL_V) * 28
                elif HANGUL_S <= a < HANGUL_S + HANGUL_SN and (a - HANGUL_S) % 28 == 0 and HANGUL_T < cp < HANGUL_T + 28:
                    composed = a + cp - HANGUL_T
                else:
                    composed = self.compose.get((a, cp))
                if composed is not None:
                    out[starter] = composed
                    continue
            if k == 0:
                starter = len(out)
            last_ccc = k
            out.append(cp)
        return out

    def lower(self, cps):
        out = []
        for cp in cps:
            out += self.lower_map.get(cp, [cp])
        return out


def self_check(tables):
    m = Model(*tables)
    for cp in range(N):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        assert m.lower([cp]) == [ord(x) for x in c.lower()], hex(cp)
        assert m.nfd([cp]) == [ord(x) for x in ud.normalize("NFD", c)], hex(cp)
        assert m.nfc([cp]) == [ord(x) for x in ud.normalize("NFC", c)], hex(cp)
    # Sequences: marks in every order after letters, Hangul jamo, composition-excluded code points.
    rng = random.Random(5)
    interesting = ([cp for cp in m.ccc] + list(m.decomp) + list(range(0x1100, 0x1200)) + list(range(0xAC00, 0xAC60))
                   + [ord(x) for x in "aeiouAEIOUnNcCsSΣσ"])
    for _ in range(200000):
        s = [rng.choice(interesting) for _ in range(rng.randint(1, 6))]
        t = "".join(map(chr, s))
        assert m.nfd(s) == [ord(x) for x in ud.normalize("NFD", t)], [hex(x) for x in s]
        assert m.nfc(s) == [ord(x) for x in ud.normalize("NFC", t)], [hex(x) for x in s]


def emit(tables, path):
    runs, lower, lower_special, ccc, decomp, exclusions = tables
    assert list(lower_special) == [0x130], "unicode.hpp hard-codes U+0130 as the only multi-code-point lowercase"

    def block(items, per_line):
        lines = []
        for i in range(0, len(items), per_line):
            lines.append("    " + " ".join(items[i:i + per_line]))
        return "\n".join(lines)

    out = []
    out.append("// text/unicode_tables.hpp: GENERATED by tools/gen_unicode_tables.py, do not edit.")
    out.append(f"// Source: Python {sys.version.split()[0]} unicodedata, Unicode {ud.unidata_version}.")
    out.append("// Character properties, lowercase mapping, combining classes and canonical decompositions")
    out.append("// as ranges and sorted arrays; unicode.hpp holds the lookups and the normalization algorithms.")
    out.append("#pragma once\n\n#include <cstdint>\n")
    out.append("namespace foundry::text::unicode::tables {\n")
    out.append(f'inline constexpr const char* kUnicodeVersion = "{ud.unidata_version}";')
    out.append(f'inline constexpr const char* kPythonVersion = "{sys.version.split()[0]}";\n')
    out.append("// (first code point << 8) | property bits, valid up to the next entry's first code point.")
    out.append(f"inline constexpr std::uint32_t kPropertyRuns[{len(runs)}] = {{")
    out.append(block([f"0x{(cp << 8) | f:08X}," for cp, f in runs], 10))
    out.append("};\n")
    out.append("// str.lower(): code points first, first+stride, ..., last map to cp + delta. U+0130 is special.")
    out.append("struct LowerRange {\n  std::uint32_t first, last;\n  std::int32_t delta;\n  std::uint32_t stride;\n};")
    out.append(f"inline constexpr LowerRange kLowerRanges[{len(lower)}] = {{")
    out.append(block([f"{{0x{a:X}, 0x{b:X}, {d}, {s}}}," for a, b, d, s in lower], 5))
    out.append("};\n")
    out.append("// Canonical combining class (non-zero only) of code points first..last.")
    out.append("struct CombiningRange {\n  std::uint32_t first, last, ccc;\n};")
    out.append(f"inline constexpr CombiningRange kCombiningRanges[{len(ccc)}] = {{")
    out.append(block([f"{{0x{a:X}, 0x{b:X}, {k}}}," for a, b, k in ccc], 6))
    out.append("};\n")
    out.append("// One level of canonical decomposition: cp -> first second (second 0 for singletons); Hangul is")
    out.append("// algorithmic and not listed.")
    out.append("struct Decomposition {\n  std::uint32_t cp, first, second;\n};")
    items = [f"{{0x{cp:X}, 0x{d[0]:X}, 0x{d[1] if len(d) == 2 else 0:X}}}," for cp, d in sorted(decomp.items())]
    out.append(f"inline constexpr Decomposition kDecompositions[{len(items)}] = {{")
    out.append(block(items, 5))
    out.append("};\n")
    out.append("// Primary composites for NFC, sorted by (first, second): the two-part decompositions minus the")
    out.append("// composition exclusions and non-starter decompositions. Hangul is algorithmic and not listed.")
    out.append("struct Composition {\n  std::uint32_t first, second, composite;\n};")
    excluded = set(exclusions)
    pairs = sorted((d[0], d[1], cp) for cp, d in decomp.items() if len(d) == 2 and cp not in excluded)
    out.append(f"inline constexpr Composition kCompositions[{len(pairs)}] = {{")
    out.append(block([f"{{0x{a:X}, 0x{b:X}, 0x{c:X}}}," for a, b, c in pairs], 5))
    out.append("};\n")
    out.append("}  // namespace foundry::text::unicode::tables\n")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(out))


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "include", "foundry", "text", "unicode_tables.hpp")
    tables = build()
    self_check(tables)
    emit(tables, path)
    print(f"wrote {path}: {len(tables[0])} property runs, {len(tables[1])} lowercase ranges, "
          f"{len(tables[3])} combining ranges, {len(tables[4])} decompositions, {len(tables[5])} composition exclusions")


if __name__ == "__main__":
    main()
