// Ids of test texts under Hugging Face's JavaScript tokenizer (npm @huggingface/tokenizers), an
// implementation independent of the Rust library DJL wraps. Writes the table the Java tests compare with.
//
//   npm install @huggingface/tokenizers@0.2.0          (in any folder; run node from there)
//   node js-ids.mjs TOKENIZER_JSON TEXTS_JSON > OUT.json
//
// TEXTS_JSON is a JSON array of strings. Special tokens are not added (the tests encode without them).
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { Tokenizer } from "@huggingface/tokenizers";

const [tokenizerPath, textsPath] = process.argv.slice(2);
const raw = readFileSync(tokenizerPath);
const tokenizer = new Tokenizer(JSON.parse(raw.toString("utf8")), {});
const texts = JSON.parse(readFileSync(textsPath, "utf8"));
const main = createRequire(import.meta.url).resolve("@huggingface/tokenizers");
const version = JSON.parse(readFileSync(new URL("../package.json", "file://" + main), "utf8")).version;
const rows = texts.map((text) => ({ text, ids: tokenizer.encode(text, { add_special_tokens: false }).ids }));
process.stdout.write(JSON.stringify({
  generator: `@huggingface/tokenizers ${version} via js-ids.mjs`,
  tokenizer_sha256: createHash("sha256").update(raw).digest("hex"),
  rows,
}, null, 1) + "\n");
