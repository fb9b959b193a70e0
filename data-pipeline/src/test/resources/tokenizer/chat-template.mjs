// Renders the chat_template of a tokenizer_config.json with HF's JavaScript Jinja (npm @huggingface/jinja,
// the engine transformers.js applies chat templates with) for a fixed conversation, with and without the
// generation prompt. The Java test compares the rendering with the layout the data pipeline trains on.
//
//   npm install @huggingface/jinja@0.5.11
//   node chat-template.mjs TOKENIZER_CONFIG_JSON > OUT.json
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { Template } from "@huggingface/jinja";

const template = JSON.parse(readFileSync(process.argv[2], "utf8")).chat_template;
const messages = [
  { role: "system", content: "You describe shapes." },
  { role: "user", content: "What is in the picture?" },
  { role: "assistant", content: "A small red circle moving left." },
];
const t = new Template(template);
process.stdout.write(JSON.stringify({
  generator: "@huggingface/jinja 0.5.11 via chat-template.mjs",
  template_sha256: createHash("sha256").update(template).digest("hex"),
  messages,
  rendered: t.render({ messages, add_generation_prompt: false }),
  rendered_with_generation_prompt: t.render({ messages: messages.slice(0, 2), add_generation_prompt: true }),
}, null, 1) + "\n");
