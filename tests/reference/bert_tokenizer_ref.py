#!/usr/bin/python3
"""Independent Python reference for include/foundry/text: Hugging Face's slow BertTokenizer and a
WordPiece vocabulary trainer, written from their documented algorithms with the standard library only.

Tokenization follows transformers' tokenization_bert.py (BasicTokenizer, WordpieceTokenizer,
BertTokenizer) and the parts of PreTrainedTokenizer it relies on: lowercasing one character at a
time outside special tokens, splitting the text at special tokens (the added-token trie), then the
basic + WordPiece steps; build_inputs_with_special_tokens, truncate_sequences, padding and _decode with
clean_up_tokenization. transformers itself is not installable here, so this file is the oracle the
C++ fixtures are generated from (tests/reference/make_text_fixtures.py).

The trainer is the slow, obvious version of wordpiece_trainer.hpp: every merge recounts all pairs.
"""
import re
import unicodedata

# ---------------------------------------------------------------------------------------------
# Character classes (transformers.tokenization_utils _is_whitespace / _is_control / _is_punctuation)


def is_whitespace(ch):
    if ch in (" ", "\t", "\n", "\r"):
        return True
    return unicodedata.category(ch) == "Zs"


def is_control(ch):
    if ch in ("\t", "\n", "\r"):
        return False
    return unicodedata.category(ch).startswith("C")


def is_punctuation(ch):
    cp = ord(ch)
    # All non-letter/number ASCII counts as punctuation, e.g. "^", "$", "`".
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def is_chinese_char(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF or 0x2A700 <= cp <= 0x2B73F
            or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF or 0xF900 <= cp <= 0xFAFF
            or 0x2F800 <= cp <= 0x2FA1F)


def whitespace_tokenize(text):
    text = text.strip()
    return text.split() if text else []


# ---------------------------------------------------------------------------------------------
# BasicTokenizer and WordpieceTokenizer


class BasicTokenizer:
    def __init__(self, do_lower_case=True, never_split=None, tokenize_chinese_chars=True, strip_accents=None,
                 do_split_on_punc=True, remove_control_chars=True):
        self.do_lower_case = do_lower_case
        self.never_split = set(never_split or [])
        self.tokenize_chinese_chars = tokenize_chinese_chars
        self.strip_accents = strip_accents
        self.do_split_on_punc = do_split_on_punc
        self.remove_control_chars = remove_control_chars

    def tokenize(self, text, never_split=None):
        never_split = self.never_split.union(set(never_split)) if never_split else self.never_split
        text = self._clean_text(text)
        if self.tokenize_chinese_chars:
            text = self._tokenize_chinese_chars(text)
        # transformers >= 4.31: the same character written with different code points is one token.
        text = unicodedata.normalize("NFC", text)
        split_tokens = []
        for token in whitespace_tokenize(text):
            if token not in never_split:
                if self.do_lower_case:
                    token = token.lower()
                    if self.strip_accents is not False:
                        token = self._run_strip_accents(token)
                elif self.strip_accents:
                    token = self._run_strip_accents(token)
            split_tokens.extend(self._run_split_on_punc(token, never_split))
        return whitespace_tokenize(" ".join(split_tokens))

    @staticmethod
    def _run_strip_accents(text):
        return "".join(ch for ch in unicodedata.normalize("NFD", text) if unicodedata.category(ch) != "Mn")

    def _run_split_on_punc(self, text, never_split=None):
        if not self.do_split_on_punc or (never_split is not None and text in never_split):
            return [text]
        output, start_new_word = [], True
        for ch in text:
            if is_punctuation(ch):
                output.append([ch])
                start_new_word = True
            else:
                if start_new_word:
                    output.append([])
                start_new_word = False
                output[-1].append(ch)
        return ["".join(x) for x in output]

    @staticmethod
    def _tokenize_chinese_chars(text):
        return "".join(f" {ch} " if is_chinese_char(ord(ch)) else ch for ch in text)

    def _clean_text(self, text):
        output = []
        for ch in text:
            cp = ord(ch)
            if cp == 0 or cp == 0xFFFD or (self.remove_control_chars and is_control(ch)):
                continue
            output.append(" " if is_whitespace(ch) else ch)
        return "".join(output)


class WordpieceTokenizer:
    def __init__(self, vocab, unk_token, max_input_chars_per_word=100):
        self.vocab = vocab
        self.unk_token = unk_token
        self.max_input_chars_per_word = max_input_chars_per_word

    def tokenize(self, text):
        output_tokens = []
        for token in whitespace_tokenize(text):
            chars = list(token)
            if len(chars) > self.max_input_chars_per_word:
                output_tokens.append(self.unk_token)
                continue
            is_bad, start, sub_tokens = False, 0, []
            while start < len(chars):
                end, cur_substr = len(chars), None
                while start < end:
                    substr = "".join(chars[start:end])
                    if start > 0:
                        substr = "##" + substr
                    if substr in self.vocab:
                        cur_substr = substr
                        break
                    end -= 1
                if cur_substr is None:
                    is_bad = True
                    break
                sub_tokens.append(cur_substr)
                start = end
            output_tokens.extend([self.unk_token] if is_bad else sub_tokens)
        return output_tokens


# ---------------------------------------------------------------------------------------------
# vocab.txt


def load_vocab(path):
    """HF load_vocab: text mode (universal newlines), one token per line, a repeated token keeps its last id."""
    with open(path, "r", encoding="utf-8") as reader:
        tokens = reader.readlines()
    return vocab_from_tokens([t.rstrip("\n") for t in tokens])


def vocab_from_tokens(tokens):
    vocab = {}
    for index, token in enumerate(tokens):
        vocab[token] = index
    return vocab


def save_vocab(tokens, path):
    with open(path, "w", encoding="utf-8", newline="\n") as writer:
        for token in tokens:
            writer.write(token + "\n")


# ---------------------------------------------------------------------------------------------
# BertTokenizer


class BertTokenizer:
    def __init__(self, vocab, do_lower_case=True, never_split=None, unk_token="[UNK]", sep_token="[SEP]",
                 pad_token="[PAD]", cls_token="[CLS]", mask_token="[MASK]", tokenize_chinese_chars=True,
                 strip_accents=None, do_split_on_punc=True, remove_control_chars=True):
        self.vocab = vocab if isinstance(vocab, dict) else vocab_from_tokens(vocab)
        self.ids_to_tokens = {i: t for t, i in self.vocab.items()}
        self.unk_token, self.sep_token, self.pad_token = unk_token, sep_token, pad_token
        self.cls_token, self.mask_token = cls_token, mask_token
        self.all_special_tokens = [unk_token, sep_token, pad_token, cls_token, mask_token]
        self.do_lower_case = do_lower_case
        self.basic_tokenizer = BasicTokenizer(do_lower_case, never_split, tokenize_chinese_chars, strip_accents,
                                              do_split_on_punc, remove_control_chars)
        self.wordpiece_tokenizer = WordpieceTokenizer(self.vocab, unk_token)

    @property
    def all_special_ids(self):
        return [self.convert_token_to_id(t) for t in self.all_special_tokens]

    def _split_on_special_tokens(self, text):
        """The added-token trie: at the earliest position where a special token starts, take the longest."""
        out, chunk_start, i = [], 0, 0
        specials = sorted(set(self.all_special_tokens), key=len, reverse=True)
        while i < len(text):
            match = next((s for s in specials if s and text.startswith(s, i)), None)
            if match is None:
                i += 1
                continue
            if i > chunk_start:
                out.append(text[chunk_start:i])
            out.append(match)
            i += len(match)
            chunk_start = i
        if chunk_start < len(text):
            out.append(text[chunk_start:])
        return out

    def tokenize(self, text):
        if self.do_lower_case:
            # PreTrainedTokenizer.tokenize: lowercase everything but special tokens, one character at a time.
            escaped = [re.escape(t) for t in self.all_special_tokens]
            pattern = r"(" + r"|".join(escaped) + r")|" + r"(.+?)"
            text = re.sub(pattern, lambda m: m.groups()[0] or m.groups()[1].lower(), text)
        tokens = []
        for chunk in self._split_on_special_tokens(text):
            if chunk in self.all_special_tokens:
                tokens.append(chunk)
            else:
                tokens.extend(self._tokenize(chunk))
        return tokens

    def _tokenize(self, text):
        split_tokens = []
        for token in self.basic_tokenizer.tokenize(text, never_split=self.all_special_tokens):
            if token in self.basic_tokenizer.never_split:
                split_tokens.append(token)
            else:
                split_tokens += self.wordpiece_tokenizer.tokenize(token)
        return split_tokens

    def convert_token_to_id(self, token):
        return self.vocab.get(token, self.vocab.get(self.unk_token))

    def convert_tokens_to_ids(self, tokens):
        return [self.convert_token_to_id(t) for t in tokens]

    def encode_ids(self, text):
        return self.convert_tokens_to_ids(self.tokenize(text))

    def encode(self, text, pair=None, add_special_tokens=True, max_length=None, truncation="do_not_truncate",
               padding="do_not_pad", pad_to_multiple_of=None):
        """Returns dict(input_ids, token_type_ids, attention_mask, special_tokens_mask), HF's prepare_for_model."""
        ids = self.encode_ids(text)
        pair_ids = self.encode_ids(pair) if pair is not None else None
        n_special = (3 if pair is not None else 2) if add_special_tokens else 0
        if truncation != "do_not_truncate" and max_length is not None:
            ids, pair_ids = truncate_sequences(ids, pair_ids, len(ids) + len(pair_ids or []) + n_special - max_length,
                                               truncation)
        cls, sep = self.convert_token_to_id(self.cls_token), self.convert_token_to_id(self.sep_token)
        if add_special_tokens:
            input_ids = [cls] + ids + [sep] + ((pair_ids + [sep]) if pair_ids is not None else [])
            types = [0] * (len(ids) + 2) + ([1] * (len(pair_ids) + 1) if pair_ids is not None else [])
            special = [1] + [0] * len(ids) + [1] + (([0] * len(pair_ids) + [1]) if pair_ids is not None else [])
        else:
            input_ids = ids + (pair_ids or [])
            types = [0] * len(ids) + [1] * len(pair_ids or [])
            special = [0] * len(input_ids)
        enc = {"input_ids": input_ids, "token_type_ids": types, "attention_mask": [1] * len(input_ids),
               "special_tokens_mask": special}
        if padding == "max_length":
            pad_encodings([enc], max_length, pad_to_multiple_of, self.convert_token_to_id(self.pad_token))
        return enc

    def encode_batch(self, texts, pairs=None, padding="longest", max_length=None, pad_to_multiple_of=None, **kw):
        encs = [self.encode(t, pairs[i] if pairs else None, max_length=max_length, **kw) for i, t in enumerate(texts)]
        length = max(len(e["input_ids"]) for e in encs) if padding == "longest" else max_length
        if padding != "do_not_pad":
            pad_encodings(encs, length, pad_to_multiple_of, self.convert_token_to_id(self.pad_token))
        return encs

    def convert_ids_to_tokens(self, ids, skip_special_tokens=False):
        special = set(self.all_special_ids)
        return [self.ids_to_tokens.get(i, self.unk_token) for i in ids if not (skip_special_tokens and i in special)]

    @staticmethod
    def convert_tokens_to_string(tokens):
        return " ".join(tokens).replace(" ##", "").strip()

    def decode(self, ids, skip_special_tokens=False, clean_up_tokenization_spaces=True):
        text = self.convert_tokens_to_string(self.convert_ids_to_tokens(ids, skip_special_tokens))
        return clean_up_tokenization(text) if clean_up_tokenization_spaces else text


def clean_up_tokenization(out_string):
    return (out_string.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",")
            .replace(" ' ", "'").replace(" n't", "n't").replace(" 'm", "'m").replace(" 's", "'s")
            .replace(" 've", "'ve").replace(" 're", "'re"))


def truncate_sequences(ids, pair_ids, num_tokens_to_remove, strategy):
    """HF truncate_sequences for truncation_side="right", stride=0; raises where HF logs an error."""
    if num_tokens_to_remove <= 0:
        return ids, pair_ids
    if strategy == "only_first" or (strategy == "longest_first" and pair_ids is None):
        if len(ids) <= num_tokens_to_remove:
            raise ValueError("first sequence too short")
        return ids[:-num_tokens_to_remove], pair_ids
    if strategy == "only_second":
        if pair_ids is None or len(pair_ids) <= num_tokens_to_remove:
            raise ValueError("second sequence too short")
        return ids, pair_ids[:-num_tokens_to_remove]
    for _ in range(num_tokens_to_remove):
        if len(ids) > len(pair_ids):
            ids = ids[:-1]
        else:
            pair_ids = pair_ids[:-1]
    return ids, pair_ids


def pad_encodings(encs, length, pad_to_multiple_of, pad_id):
    if pad_to_multiple_of and length % pad_to_multiple_of:
        length = (length // pad_to_multiple_of + 1) * pad_to_multiple_of
    for e in encs:
        n = length - len(e["input_ids"])
        if n > 0:
            e["input_ids"] += [pad_id] * n
            e["token_type_ids"] += [0] * n
            e["attention_mask"] += [0] * n
            e["special_tokens_mask"] += [1] * n


# ---------------------------------------------------------------------------------------------
# WordPiece vocabulary training (the algorithm documented in wordpiece_trainer.hpp)


def count_words(texts, basic):
    counts = {}
    for text in texts:
        for w in basic.tokenize(text):
            counts[w] = counts.get(w, 0) + 1
    return counts


def _better(a, b):
    """Is pair a = (count, fx * fy, (x, y)) ahead of b: a higher count / (fx * fy), compared exactly as
    integers, then a higher count, then smaller ids."""
    if a[0] * b[1] != b[0] * a[1]:
        return a[0] * b[1] > b[0] * a[1]
    if a[0] != b[0]:
        return a[0] > b[0]
    return a[2] < b[2]


def train_wordpiece(word_counts, vocab_size, min_frequency=2, special_tokens=("[PAD]", "[UNK]", "[CLS]", "[SEP]",
                    "[MASK]"), limit_alphabet=None, score="likelihood", prefix="##"):
    tokens, ids = [], {}

    def add(tok):
        if tok not in ids:
            ids[tok] = len(tokens)
            tokens.append(tok)
        return ids[tok]

    for t in special_tokens:
        add(t)
    alphabet = {}
    for w, c in word_counts.items():
        for ch in w:
            alphabet[ch] = alphabet.get(ch, 0) + c
    kept = sorted(alphabet, key=lambda ch: (-alphabet[ch], ord(ch)))
    if limit_alphabet is not None:
        kept = kept[:limit_alphabet]
    kept = set(kept)
    for ch in sorted(kept, key=ord):
        add(ch)
    # Words with a character outside the alphabet can only ever be [UNK]; they take no part.
    words = sorted((w, c) for w, c in word_counts.items() if all(ch in kept for ch in w))
    for ch in sorted({ch for w, _ in words for ch in w[1:]}, key=ord):
        add(prefix + ch)
    segs = [[ids[w[0]]] + [ids[prefix + ch] for ch in w[1:]] for w, _ in words]
    counts = [c for _, c in words]

    while len(tokens) < vocab_size:
        pair_count, freq = {}, {}
        for seg, c in zip(segs, counts):
            for s in seg:
                freq[s] = freq.get(s, 0) + c
            for p in zip(seg, seg[1:]):
                pair_count[p] = pair_count.get(p, 0) + c
        best = None  # (count, fx * fy, (x, y)) of the best pair so far
        for (x, y), n in pair_count.items():
            if n < min_frequency:
                continue
            cand = (n, freq[x] * freq[y] if score == "likelihood" else 1, (x, y))
            if best is None or _better(cand, best):
                best = cand
        if best is None:
            break
        x, y = best[2]
        right = tokens[y][len(prefix):] if tokens[y].startswith(prefix) else tokens[y]
        z = add(tokens[x] + right)
        for seg in segs:
            i = 0
            while i < len(seg) - 1:
                if seg[i] == x and seg[i + 1] == y:
                    seg[i:i + 2] = [z]
                i += 1
    return tokens


# ---------------------------------------------------------------------------------------------
# Fixture helpers: a hash the C++ tests recompute.


def fnv1a64(data, h=0xCBF29CE484222325):
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def hash_strings(strings, h=0xCBF29CE484222325):
    """FNV-1a 64 over the UTF-8 of each string followed by 0x1F (unit separator)."""
    for s in strings:
        h = fnv1a64(s.encode("utf-8", "surrogatepass") + b"\x1f", h)
    return h
