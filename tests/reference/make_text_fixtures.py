#!/usr/bin/python3
"""Writes tests/fixtures/text/ from the Python reference (bert_tokenizer_ref.py) and ../shared/data.

Run from anywhere: /usr/bin/python3 tests/reference/make_text_fixtures.py [--data DIR] [--out DIR]
(about 3 CPU minutes, most of it tokenizing the full corpora for corpus_hashes.txt).
Output is deterministic; the C++ tests (tests/text/*_test.cpp) read it and need no Python.

  samples.txt            ~200 lines spread over sotu, moby_dick, zh_poems and spam_train (<= 300 chars each)
  vocab_uncased.txt      WordPiece vocabulary trained on samples.txt by the reference trainer
                         (lowercase, vocab_size 3000, min_frequency 2, likelihood score)
  expected_uncased.txt   every third sample line: its index, then the ids of BertTokenizer(vocab_uncased)
                         without [CLS]/[SEP]
  expected_hashes.txt    per sample line: hashes of those ids (space-separated), of the cased and the
                         lowercase-without-accent-stripping tokens, and of decode(ids), as hex FNV-1a 64
                         (hash_strings in the reference)
  unicode_cases.txt      random strings of awkward code points (hex UTF-8) and hashes of their tokens
                         in the three configurations
  utf8_cases.txt         random byte strings (hex) and hashes of Python's decode(errors="replace")
                         and of the uncased tokens
  encode_cases.txt       pair encodings with truncation and padding (first/second: the first 3
                         lines of sotu / zh_poems in samples.txt, whole or their first 12 characters)
  trainer_hashes.txt     hash of the token list of more trainings on samples.txt
  unicode_summary.txt    hashes over every code point of str.lower(), NFD, NFC and the character
                         classes, and of NFD/NFC of pseudo-random mark sequences (see unicode_summary)
  corpus_hashes.txt      for every full corpus file: line count and the hash of all uncased ids and
                         all cased tokens, line by line
"""
import argparse
import os
import random
import sys
import unicodedata

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bert_tokenizer_ref as ref  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "text")
CORPORA = ["pretrain/sotu.txt", "pretrain/moby_dick.txt", "pretrain/zh_poems.txt", "classify/spam_train.tsv",
           "classify/spam_dev.tsv"]


def corpus_texts(path):
    """The texts a corpus test tokenizes: every line of a .txt file, the text column of a .tsv."""
    with open(path, encoding="utf-8", newline="") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if path.endswith(".tsv"):
        return [line.split("\t", 1)[1] for line in lines[1:]]
    return lines


def spread(lines, k):
    lines = [x for x in lines if x.strip()]
    return [lines[i * len(lines) // k] for i in range(k)]


def sample_lines(data):
    picks = [("pretrain/sotu.txt", 70), ("pretrain/moby_dick.txt", 50), ("pretrain/zh_poems.txt", 30),
             ("classify/spam_train.tsv", 50)]
    out = []
    for name, k in picks:
        out += [line[:300] for line in spread(corpus_texts(os.path.join(data, name)), k)]
    return out


AWKWARD = (list("aZqQ09 .,;!?'\"-_$`^[]#") + ["\t", "\n", "\r", "\x00", "\x01", "\x0b", "\x1c", "\x7f", "\x85"]
           + list("éÉßÿ\xa0\xadª") + ["\u0301", "\u0300", "\u0327", "\u0345", "\u05b0", "\u093c", "\u094d"]
           + ["\u212b", "\u212a", "\u2126", "\u1e9b", "\u1f88", "\u0958", "\u0344", "\u0130", "\u03a3", "\u03c2",
              "\u03f0", "\u0386", "\u0390"]
           + ["\u1100", "\u1161", "\u11a8", "\uac00", "\ud4db"]
           + ["中", "国", "\uf900", "\U0002f800", "\U00020000", "\u3400", "の"]
           + list("。，「」—“”‘’…¿¡§¶·") + ["\u037e", "\u1fef", "\u0387"]
           + ["\u2028", "\u2029", "\u3000", "\u2000", "\u2009", "\u200b", "\ufeff", "\u200e", "\u180e", "\u200d"]
           + ["€", "™", "\U0001f600", "\U0001f1fa", "\u0378", "\ue000", "\U0010ffff", "\ufffd"]
           + ["[CLS]", "[MASK]", "[UNK]", "[SEP]", "[PAD]", "##", "क", "ि", "ب", "\u064b", "Ａ", "９", "the", "ing"])


def random_bytes(rng):
    parts = []
    for _ in range(rng.randint(0, 8)):
        kind = rng.randint(0, 5)
        if kind == 0:
            parts.append(bytes([rng.randint(0x20, 0x7e)]))
        elif kind == 1:
            parts.append(bytes([rng.randint(0x80, 0xff)]))
        elif kind == 2:  # a valid sequence, maybe truncated
            seq = chr(rng.choice([0xe9, 0x4e2d, 0x1f600, 0xd55c, 0x10ffff, 0x800, 0xfffd])).encode()
            parts.append(seq[:rng.randint(1, len(seq))])
        elif kind == 3:  # overlong, surrogate and out-of-range forms
            parts.append(rng.choice([b"\xc0\x80", b"\xc1\xbf", b"\xe0\x80\x80", b"\xe0\x9f\xbf", b"\xed\xa0\x80",
                                     b"\xed\xbf\xbf", b"\xf0\x80\x80\x80", b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80",
                                     b"\xf8\x88\x80\x80\x80", b"\xfe", b"\xff"]))
        elif kind == 4:
            parts.append(bytes(rng.randint(0, 255) for _ in range(rng.randint(1, 4))))
        else:
            parts.append(b"\x00" if rng.random() < 0.5 else b" ")
    return b"".join(parts)


# Pseudo-random code point sequences that unicode_test.cpp regenerates with the same generator.
SEQUENCE_POOL_RANGES = [(0x41, 0x5A), (0x61, 0x7A), (0x300, 0x36F), (0x591, 0x5C7), (0x900, 0x97F), (0x1100, 0x1112),
                        (0x1161, 0x1175), (0x11A8, 0x11C2), (0x1F00, 0x1FFF), (0x3099, 0x309A), (0x304B, 0x3062),
                        (0xAC00, 0xAC20), (0x1E00, 0x1E0F), (0x0F71, 0x0F84), (0x1D15E, 0x1D16D)]


def pseudo_random_sequences(count):
    pool = [cp for a, b in SEQUENCE_POOL_RANGES for cp in range(a, b + 1)]
    x = 1
    for _ in range(count):
        x = (x * 6364136223846793005 + 1442695040888963407) % 2**64
        n = 1 + (x >> 33) % 6
        seq = []
        for _ in range(n):
            x = (x * 6364136223846793005 + 1442695040888963407) % 2**64
            seq.append(pool[(x >> 33) % len(pool)])
        yield "".join(map(chr, seq))


def unicode_summary():
    chars = [chr(cp) for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]

    def classes(c):
        bits = (ref.is_control(c), ref.is_whitespace(c), c.isspace(), ref.is_punctuation(c),
                unicodedata.category(c) == "Mn", ref.is_chinese_char(ord(c)))
        return "".join("1" if b else "0" for b in bits)

    seqs = list(pseudo_random_sequences(20000))
    return [f"lower {h(c.lower() for c in chars)}",
            f"nfd {h(unicodedata.normalize('NFD', c) for c in chars)}",
            f"nfc {h(unicodedata.normalize('NFC', c) for c in chars)}",
            f"classes {h(classes(c) for c in chars)}",
            f"nfd_sequences {h(unicodedata.normalize('NFD', s) for s in seqs)}",
            f"nfc_sequences {h(unicodedata.normalize('NFC', s) for s in seqs)}"]


def h(strings):
    return f"{ref.hash_strings(strings):016x}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data"))
    parser.add_argument("--out", default=OUT)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    def write(name, lines):
        with open(os.path.join(args.out, name), "w", encoding="utf-8", newline="\n") as f:
            f.write("".join(line + "\n" for line in lines))

    samples = sample_lines(args.data)
    write("samples.txt", samples)
    counts = ref.count_words(samples, ref.BasicTokenizer(do_lower_case=True))
    vocab = ref.train_wordpiece(counts, 3000, min_frequency=2)
    ref.save_vocab(vocab, os.path.join(args.out, "vocab_uncased.txt"))
    print(f"vocab: {len(vocab)} tokens")

    uncased = ref.BertTokenizer(vocab, do_lower_case=True)
    cased = ref.BertTokenizer(vocab, do_lower_case=False)
    no_strip = ref.BertTokenizer(vocab, do_lower_case=True, strip_accents=False)
    ids = [uncased.encode_ids(s) for s in samples]
    write("expected_uncased.txt", [f"{i} " + " ".join(map(str, x)) for i, x in enumerate(ids) if i % 3 == 0])
    write("expected_hashes.txt", [f"{h([' '.join(map(str, x))])} {h(cased.tokenize(s))} {h(no_strip.tokenize(s))} "
                                  f"{h([uncased.decode(x)])}" for s, x in zip(samples, ids)])

    rng = random.Random(20240611)
    lines = []
    for _ in range(300):
        s = "".join(rng.choice(AWKWARD) for _ in range(rng.randint(1, 12)))
        lines.append(f"{s.encode().hex()} {h(uncased.tokenize(s))} {h(cased.tokenize(s))} {h(no_strip.tokenize(s))}")
    write("unicode_cases.txt", lines)

    lines = []
    for _ in range(200):
        b = random_bytes(rng)
        text = b.decode("utf-8", errors="replace")
        lines.append(f"{b.hex() or '-'} {h([text])} {h(uncased.tokenize(text))}")
    write("utf8_cases.txt", lines)

    # max_length truncation padding first second index: input_ids | token_type_ids | attention_mask | special
    long_a, long_b = samples[3:6], samples[120:123]
    short_a, short_b = [x[:12] for x in long_a], [x[:12] for x in long_b]
    sets = {"long_a": long_a, "long_b": long_b, "short_a": short_a, "short_b": short_b}
    lines = []
    cases = [(24, "longest_first", "longest", "long_a", "long_b"), (24, "only_first", "longest", "long_a", "short_b"),
             (24, "only_second", "max_length", "short_a", "long_b"), (40, "longest_first", "max_length", "long_a", "long_b"),
             (200, "do_not_truncate", "longest", "long_a", "short_b")]
    for max_length, truncation, padding, first, second in cases:
        encs = uncased.encode_batch(sets[first], sets[second], padding=padding, max_length=max_length,
                                    truncation=truncation)
        for i, e in enumerate(encs):
            lines.append(f"{max_length} {truncation} {padding} {first} {second} {i} " + " | ".join(
                " ".join(map(str, e[k])) for k in ("input_ids", "token_type_ids", "attention_mask",
                                                   "special_tokens_mask")))
    write("encode_cases.txt", lines)

    lines = []
    for vocab_size, min_frequency, score, limit in [(3000, 2, "frequency", None), (1200, 1, "likelihood", 300),
                                                     (2500, 5, "likelihood", None)]:
        toks = ref.train_wordpiece(counts, vocab_size, min_frequency=min_frequency, score=score, limit_alphabet=limit)
        lines.append(f"{vocab_size} {min_frequency} {score} {limit or 0} {len(toks)} {h(toks)}")
        print(lines[-1])
    write("trainer_hashes.txt", lines)

    write("unicode_summary.txt", unicode_summary())

    lines = []
    for name in CORPORA:
        texts = corpus_texts(os.path.join(args.data, name))
        hu, hc = 0xCBF29CE484222325, 0xCBF29CE484222325
        for t in texts:
            hu = ref.hash_strings([" ".join(map(str, uncased.encode_ids(t)))], hu)
            hc = ref.hash_strings(cased.tokenize(t) + ["\n"], hc)
        lines.append(f"{name} {len(texts)} {hu:016x} {hc:016x}")
        print(lines[-1])
    write("corpus_hashes.txt", lines)


if __name__ == "__main__":
    main()
