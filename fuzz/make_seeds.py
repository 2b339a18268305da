#!/usr/bin/env python3
"""Writes the seed inputs of the fuzz targets into fuzz/corpus/<target>/seed-*.

Small valid files of each format (the fuzzer mutates from there, and make test replays them),
built from the format specifications by hand so they do not depend on cai's own writers:
GGUF (version 3, llama.cpp's gguf.md), safetensors (a u64 header length, a JSON header, the
data), Hugging Face tokenizer.json, constitutions, JSONL datasets, request bodies and raw
HTTP requests. Run from the repository root: python3 fuzz/make_seeds.py
"""
import json
import os
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


# --- GGUF -----------------------------------------------------------------------------------
U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
SCALAR = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f",
          BOOL: "<?", U64: "<Q", I64: "<q", F64: "<d"}


def gstr(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def gvalue(t, v):
    if t == STRING:
        return gstr(v)
    if t == ARRAY:
        et, items = v
        out = struct.pack("<IQ", et, len(items))
        for x in items:
            out += gvalue(et, x)
        return out
    return struct.pack(SCALAR[t], v)


def f16(x):
    return struct.pack("<e", x)


def gguf(kvs, tensors, alignment=32):
    """kvs: [(key, type, value)]; tensors: [(name, ne, ggml_type, bytes)]."""
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    for k, t, v in kvs:
        out += gstr(k) + struct.pack("<I", t) + gvalue(t, v)
    offset, blobs = 0, b""
    for name, ne, ty, data in tensors:
        out += gstr(name) + struct.pack("<I", len(ne))
        out += b"".join(struct.pack("<Q", n) for n in ne)
        out += struct.pack("<IQ", ty, offset)
        pad = (-len(data)) % alignment
        blobs += data + b"\0" * pad
        offset += len(data) + pad
    out += b"\0" * ((-len(out)) % alignment)
    return out + blobs


def byte_level_chars():
    # GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to U+0100 onwards.
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    chars, n = {}, 0
    for b in range(256):
        if b in keep:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + n)
            n += 1
    return [chars[b] for b in range(256)]


def gguf_seeds():
    f32 = struct.pack("<6f", 0.5, -1.0, 2.0, 0.0, 3.25, -0.125)
    q8 = f16(0.5) + bytes((i * 7) % 256 for i in range(32))  # one Q8_0 block of 32
    tensors = [("token_embd.weight", [3, 2], 0, f32),
               ("blk.0.attn_norm.weight", [4], 1, b"".join(f16(x) for x in (1, 0.5, -2, 0))),
               ("blk.0.ffn_up.weight", [32, 1], 8, q8),
               ("output_norm.weight", [2], 30, struct.pack("<2H", 0x3F80, 0xC000))]
    meta = [("general.architecture", STRING, "llama"), ("general.name", STRING, "seed"),
            ("llama.context_length", U32, 64), ("llama.embedding_length", U32, 2),
            ("llama.block_count", U32, 1), ("llama.attention.head_count", U32, 1),
            ("llama.attention.layer_norm_rms_epsilon", F32, 1e-5)]
    put("gguf", "tensors.gguf", gguf(meta, tensors))

    every = [("u8", U8, 7), ("i8", I8, -7), ("u16", U16, 700), ("i16", I16, -700),
             ("u32", U32, 70000), ("i32", I32, -70000), ("f32", F32, 1.5), ("bool", BOOL, True),
             ("str", STRING, "text \u00e9"), ("u64", U64, 1 << 40), ("i64", I64, -(1 << 40)),
             ("f64", F64, 2.25), ("arr.i32", ARRAY, (I32, [1, -2, 3])),
             ("arr.str", ARRAY, (STRING, ["a", "bc"])),
             ("arr.arr", ARRAY, (ARRAY, [(U8, [1, 2]), (U8, [])])),
             ("general.alignment", U32, 64)]
    put("gguf", "metadata.gguf", gguf(every, [("t", [2], 0, struct.pack("<2f", 1, 2))], 64))

    # A byte-level BPE tokenizer (GPT-2 style): the 256 byte symbols and a few merges.
    chars = byte_level_chars()
    g = chars[ord(" ")]
    tokens = chars + ["he", "ll", "hell", "hello", g + "w", "<|endoftext|>"]
    types = [1] * (len(tokens) - 1) + [3]
    merges = ["h e", "l l", "he ll", "hell o", g + " w"]
    tok = [("tokenizer.ggml.model", STRING, "gpt2"), ("tokenizer.ggml.pre", STRING, "gpt-2"),
           ("tokenizer.ggml.tokens", ARRAY, (STRING, tokens)),
           ("tokenizer.ggml.token_type", ARRAY, (I32, types)),
           ("tokenizer.ggml.merges", ARRAY, (STRING, merges)),
           ("tokenizer.ggml.bos_token_id", U32, len(tokens) - 1),
           ("tokenizer.ggml.eos_token_id", U32, len(tokens) - 1),
           ("tokenizer.chat_template", STRING, "{% for m in messages %}{{ m.content }}{% endfor %}")]
    put("gguf", "tokenizer-gpt2.gguf", gguf(tok, []))

    # A SentencePiece-style tokenizer (Llama 2 style): scores, byte fallback, control tokens.
    pieces = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(256)]
    pieces += ["\u2581", "\u2581h", "e", "l", "o", "h", "\u2581he", "ll", "\u2581hell", "\u2581hello"]
    scores = [0.0] * 259 + [-float(i) for i in range(len(pieces) - 259)]
    types = [2, 3, 3] + [6] * 256 + [1] * (len(pieces) - 259)
    spm = [("tokenizer.ggml.model", STRING, "llama"),
           ("tokenizer.ggml.tokens", ARRAY, (STRING, pieces)),
           ("tokenizer.ggml.scores", ARRAY, (F32, scores)),
           ("tokenizer.ggml.token_type", ARRAY, (I32, types)),
           ("tokenizer.ggml.bos_token_id", U32, 1), ("tokenizer.ggml.eos_token_id", U32, 2),
           ("tokenizer.ggml.unknown_token_id", U32, 0),
           ("tokenizer.ggml.add_bos_token", BOOL, True),
           ("tokenizer.ggml.add_space_prefix", BOOL, True)]
    put("gguf", "tokenizer-spm.gguf", gguf(spm, []))


# --- safetensors ------------------------------------------------------------------------------
def safetensors(tensors, metadata=None):
    """tensors: [(name, dtype, shape, bytes)]"""
    header, data = {}, b""
    for name, dtype, shape, blob in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(blob)]}
        data += blob
    if metadata is not None:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((-len(h)) % 8)
    return struct.pack("<Q", len(h)) + h + data


def safetensors_seeds():
    three = [("a.weight", "F32", [2, 2], struct.pack("<4f", 1, -2, 0.5, 8)),
             ("b.weight", "F16", [3], b"".join(f16(x) for x in (1, 2, -0.25))),
             ("c.bias", "BF16", [1, 2], struct.pack("<2H", 0x3F80, 0x4000))]
    put("safetensors", "three.safetensors", safetensors(three, {"format": "pt"}))
    put("safetensors", "empty.safetensors", safetensors([("e", "F32", [0], b"")]))
    put("safetensors", "scalar.safetensors", safetensors([("s", "F32", [], struct.pack("<f", 3))]))
    shard = safetensors(three, {"format": "pt"})
    index = {"metadata": {"total_size": 26},
             "weight_map": {name: "model-00001-of-00001.safetensors" for name, _, _, _ in three}}
    put("safetensors_checkpoint", "index-and-shard", json.dumps(index).encode() + b"\0" + shard)


# --- tokenizer.json ---------------------------------------------------------------------------
def tokenizer_seeds():
    fixture = os.path.join(ROOT, "tests", "fixtures", "hf-model")
    with open(os.path.join(fixture, "tokenizer.json"), "rb") as f:
        tj = f.read()
    with open(os.path.join(fixture, "tokenizer_config.json"), "rb") as f:
        tc = f.read()
    put("tokenizer_json", "byte-level-bpe", tj + b"\0" + tc)
    # SentencePiece-style BPE as transformers writes Llama tokenizers.
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab["<0x%02X>" % b] = len(vocab)
    for p in ["\u2581", "h", "e", "l", "o", "\u2581h", "\u2581he", "ll", "\u2581hell", "\u2581hello"]:
        vocab[p] = len(vocab)
    spm = {
        "version": "1.0",
        "added_tokens": [{"id": i, "content": c, "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": True}
                         for i, c in enumerate(["<unk>", "<s>", "</s>"])],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "\u2581"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
        "pre_tokenizer": None,
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "fuse_unk": True,
                  "byte_fallback": True, "vocab": vocab,
                  "merges": ["\u2581 h", "\u2581h e", "l l", "\u2581he ll", "\u2581hell o"]},
    }
    config = {"bos_token": "<s>", "eos_token": "</s>", "add_bos_token": True,
              "chat_template": "{% for m in messages %}[{{ m.role }}] {{ m.content }}{% endfor %}"}
    put("tokenizer_json", "spm-bpe", json.dumps(spm).encode() + b"\0" + json.dumps(config).encode())


# --- constitutions ----------------------------------------------------------------------------
def constitution_seeds():
    for name in ["customer-service.yaml", "hhh.yaml"]:
        with open(os.path.join(ROOT, "constitutions", name), "rb") as f:
            put("constitution_yaml", name, f.read())
    with open(os.path.join(ROOT, "constitutions", "hf-recipe-example.json"), "rb") as f:
        put("hf_recipe", "hf-recipe-example.json", f.read())


# --- JSONL datasets ---------------------------------------------------------------------------
def jsonl(rows):
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def dataset_seeds():
    sft = [{"messages": [{"role": "system", "content": "Be kind."},
                         {"role": "user", "content": "Hi there"},
                         {"role": "assistant", "content": "Hello! How can I help?"},
                         {"role": "user", "content": "Tell me a joke"},
                         {"role": "assistant", "content": "Why did the cat sit on the mat?"}]},
           {"prompt": "The capital of France is", "completion": " Paris."},
           {"prompt": [{"role": "user", "content": "2+2?"}],
            "completion": [{"role": "assistant", "content": "4"}]},
           {"text": "Once upon a time there was a tiny model."}]
    prefs = [{"prompt": "Say something nice", "chosen": " You are great.", "rejected": " No.",
              "p_chosen": 0.8},
             {"prompt": [{"role": "user", "content": "Help me"}],
              "chosen": [{"role": "assistant", "content": "Sure, with what?"}],
              "rejected": [{"role": "assistant", "content": "Go away."}]},
             {"chosen": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}],
              "rejected": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "B"}]}]
    # The first byte picks the options (bit 0: preferences; see training_jsonl.cpp).
    put("training_jsonl", "sft-long", bytes([0xF2]) + jsonl(sft))
    put("training_jsonl", "sft-short", bytes([0x0C]) + jsonl(sft))
    put("training_jsonl", "preferences-long", bytes([0xFD]) + jsonl(prefs))
    put("training_jsonl", "preferences-short", bytes([0x11]) + jsonl(prefs))
    put("prompts_jsonl", "jsonl", jsonl([{"id": "p1", "prompt": "How do I bake bread?"},
                                         {"prompt": "Tell me about \u00e9clairs"}]))
    put("prompts_jsonl", "text", "How do I bake bread?\n\nWhat is 2+2?\n")


# --- cai serve --------------------------------------------------------------------------------
def serve_seeds():
    completion = {"model": "m", "prompt": "Hello", "max_tokens": 5, "temperature": 0.7,
                  "top_p": 0.9, "top_k": 40, "seed": 1, "stop": ["\n", "."], "n": 2,
                  "stream": True, "stream_options": {"include_usage": True}, "logprobs": 3,
                  "echo": False, "ignore_eos": False}
    put("serve_request", "completion", b"\0" + json.dumps(completion).encode())
    put("serve_request", "completion-ids", b"\0" + json.dumps({"prompt": [[1, 2, 3]], "echo": True,
                                                                "max_tokens": 0, "logprobs": 0}).encode())
    chat = {"messages": [{"role": "system", "content": "s"},
                         {"role": "user", "content": [{"type": "text", "text": "hi"}]},
                         {"role": "assistant", "content": "hello"}],
            "logprobs": True, "top_logprobs": 2, "max_completion_tokens": 9}
    put("serve_request", "chat", b"\1" + json.dumps(chat).encode())
    body = json.dumps({"prompt": "Hi", "max_tokens": 2})
    put("http_framing", "content-length",
        b"\x07POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body.encode())
    put("http_framing", "chunked",
        b"\x03POST /v1/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\n{\"pro\r\n1a;ext=1\r\nmpt\":\"Hi\",\"max_tokens\":2}\r\n0\r\nTrailer: x\r\n\r\n")
    put("http_framing", "get-pipelined",
        b"\x01GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/models HTTP/1.1\r\n\r\n")
    put("http_framing", "expect",
        b"\x10POST /v1/completions HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}")


if __name__ == "__main__":
    gguf_seeds()
    safetensors_seeds()
    tokenizer_seeds()
    constitution_seeds()
    dataset_seeds()
    serve_seeds()
