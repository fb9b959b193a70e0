package ai.omnispark.trainer.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.omnispark.data.tokenizer.HfTokenizerFiles;
import ai.omnispark.data.tokenizer.Tokenizer;
import ai.omnispark.models.api.CachedDecoding;
import ai.omnispark.models.api.Model;
import ai.omnispark.models.api.ModelFamilies;
import ai.omnispark.models.api.Sample;
import ai.omnispark.parallel.engine.Batch;
import ai.omnispark.parallel.engine.Recompute;
import ai.omnispark.parallel.engine.SegmentEngine;
import ai.omnispark.parallel.param.ParamStore;
import ai.omnispark.parallel.runtime.RankContext;
import ai.omnispark.trainer.config.ConfigException;
import ai.omnispark.trainer.job.RankAssembly;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * {@code generate --model HF_DIR [--adapter ADAPTER_DIR] (--text T | --ids 1,2,3 | --image PNG [--prompt T])
 * [--max-new-tokens N] [--tokenizer byte|FILE] [--kv-cache true|false]}: greedy continuation of a
 * prompt, tokenized and decoded with the model folder's tokenizer; with {@code --image}, of the image
 * laid out as training saw it ({@link ImagePrompt}) followed by the prompt's text; with
 * {@code --adapter}, of the base with a PEFT LoRA adapter on top, unmerged. Decoding keeps a
 * key/value cache when the family offers one ({@link Model#cachedDecoding}), so a step runs only
 * its new token; {@code --kv-cache false} (or a family without one) re-runs the whole prefix.
 * A diffusion transformer's folder (family wan) generates a video instead: {@link WanGenerate}.
 */
final class GenerateCommand {
    static final int DEFAULT_NEW_TOKENS = 32;

    private GenerateCommand() {}

    /**
     * The new tokens, whether generation stopped at the end-of-sequence id, and the logits each
     * step chose from (one per step, the last one the end-of-sequence step's when it stopped there).
     */
    record Greedy(int[] ids, boolean stoppedAtEos, List<float[]> stepLogits) {}

    static int run(String[] argv, PrintStream out) throws Exception {
        if (isDiffusionModel(argv)) {
            return WanGenerate.run(argv, out);
        }
        Args args = Args.parse(argv, 0, List.of("model", "adapter", "text", "ids", "image", "prompt", "tokenizer",
                "max-new-tokens", "threads", "kv-cache"));
        Path dir = Path.of(args.required("model"));
        AdapterOption adapter = AdapterOption.of(args);
        int maxNew = args.positiveInt("max-new-tokens", String.valueOf(DEFAULT_NEW_TOKENS));
        int threads = args.positiveInt("threads", String.valueOf(Runtime.getRuntime().availableProcessors()));
        boolean cache = booleanOption(args, "kv-cache", true);
        Sample prompt;
        Tokenizer tokenizer = null;
        try {
            Greedy result;
            try (RankContext rank = RankContext.single(threads)) {
                rank.bindThread();
                // The prompt is checked against the model's vocabulary before its weights are read.
                try (RankAssembly loaded = RankAssembly.of(AdapterOption.model(dir, adapter),
                        rank.manager(), DataType.FLOAT32, 0, null, false)) {
                    int vocab = loaded.model().vocabSize();
                    prompt = prompt(args, dir, vocab);
                    if (prompt.length() == 0) {
                        throw new ConfigException("nothing to continue: the prompt has no tokens");
                    }
                    // Decoding needs a tokenizer; with --ids and none in the folder, only ids are printed.
                    String spec = args.option("tokenizer", "");
                    tokenizer = !spec.isBlank() || Files.isRegularFile(dir.resolve(HfTokenizerFiles.TOKENIZER_JSON))
                            ? ModelTokenizer.open(dir, spec, vocab) : null;
                    int eos = eosId(loaded.model(), tokenizer);
                    AdapterOption.load(loaded, dir, adapter, rank.manager());
                    result = greedy(loaded.model(), loaded.params(), rank.manager(), prompt, maxNew, eos, cache);
                }
            }
            ObjectMapper json = new ObjectMapper();
            ObjectNode o = json.createObjectNode();
            Arrays.stream(prompt.ints(Sample.INPUT_IDS)).forEach(o.putArray("prompt_ids")::add);
            Arrays.stream(result.ids()).forEach(o.putArray("ids")::add);
            if (tokenizer != null) {
                o.put("text", tokenizer.decode(result.ids()));
            }
            o.put("stop", result.stoppedAtEos() ? "eos" : "max_new_tokens");
            out.println(json.writeValueAsString(o));
            return 0;
        } finally {
            if (tokenizer != null) {
                ModelTokenizer.close(tokenizer);
            }
        }
    }

    /**
     * Whether {@code --model} names a folder whose config.json is a diffusion transformer's (family
     * wan), which generates video ({@link WanGenerate}) rather than tokens. Anything unreadable is
     * left to the token path, which reports it.
     */
    private static boolean isDiffusionModel(String[] argv) {
        String model = null;
        for (int i = 0; i < argv.length; i++) {
            if (argv[i].equals("--model") && i + 1 < argv.length) {
                model = argv[i + 1];
            } else if (argv[i].startsWith("--model=")) {
                model = argv[i].substring("--model=".length());
            }
        }
        if (model == null) {
            return false;
        }
        try {
            return ModelFamilies.forConfig(ModelFamilies.readConfig(Path.of(model))).name().equals(ai.omnispark.models.wan.WanFamily.NAME);
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** The prompt row: the image and the text after it with {@code --image}, else the ids of --text or --ids. */
    private static Sample prompt(Args args, Path dir, int vocab) throws java.io.IOException {
        if (!args.options.containsKey("image")) {
            if (args.options.containsKey("prompt")) {
                throw new ConfigException("--prompt goes with --image; without an image use --text");
            }
            return ImagePrompt.withIds(Sample.tokens(new int[0], new int[0], new int[0], new int[0]),
                    ScoreCommand.inputIds(args, dir, vocab));
        }
        if (args.options.containsKey("ids") || args.options.containsKey("text")) {
            throw new ConfigException("with --image the text after the image is --prompt (not --text or --ids)");
        }
        Path image = Path.of(args.options.get("image"));
        if (!Files.isRegularFile(image)) {
            throw new ConfigException("--image " + image + " is not a file");
        }
        ImagePrompt layout = ImagePrompt.of(dir);
        int[] text = textIds(dir, args.option("tokenizer", ""), vocab, args.option("prompt", ""));
        return layout.sample(Files.readAllBytes(image), text, "--image " + image);
    }

    /** {@code text} tokenized with the model folder's tokenizer (or {@code spec}); none for empty text. */
    static int[] textIds(Path dir, String spec, int vocab, String text) throws java.io.IOException {
        if (text.isEmpty()) {
            return new int[0];
        }
        Tokenizer tokenizer = ModelTokenizer.open(dir, spec, vocab);
        try {
            return tokenizer.encode(text);
        } finally {
            ModelTokenizer.close(tokenizer);
        }
    }

    /** generation_config.json's eos_token_id, else the tokenizer's; -1 when neither names one. */
    static int eosId(Model model, Tokenizer tokenizer) {
        com.fasterxml.jackson.databind.JsonNode generation = model.generationConfig();
        int configEos = generation == null ? -1 : generation.path("eos_token_id").asInt(-1);
        return configEos >= 0 ? configEos : tokenizer != null ? tokenizer.eosId() : -1;
    }

    static boolean booleanOption(Args args, String name, boolean fallback) {
        String v = args.option(name, String.valueOf(fallback));
        if (!v.equals("true") && !v.equals("false")) {
            throw new ConfigException("--" + name + " takes true or false, got '" + v + "'");
        }
        return Boolean.parseBoolean(v);
    }

    /** {@link #greedy(Model, ParamStore, NDManager, Sample, int, int, boolean)} of a token prompt, with the cache. */
    static Greedy greedy(Model model, ParamStore params, NDManager manager, int[] prompt, int maxNew, int eos) {
        return greedy(model, params, manager, ImagePrompt.withIds(Sample.tokens(new int[0], new int[0], new int[0],
                new int[0]), prompt), maxNew, eos, true);
    }

    /**
     * Appends the most likely next token (the lowest id among equals) until {@code eos} or
     * {@code maxNew} tokens; the end-of-sequence id itself is not returned. With {@code cache} and a
     * family that offers it, each step runs only its new token over the cached keys and values;
     * otherwise each step runs the prompt (with its media) and every token so far.
     */
    static Greedy greedy(Model model, ParamStore params, NDManager manager, Sample prompt, int maxNew, int eos,
            boolean cache) {
        SegmentEngine engine = new SegmentEngine(model.evaluationSegments(), model.units(), Recompute.none());
        CachedDecoding decoding = cache ? model.cachedDecoding() : null;
        int[] promptIds = prompt.ints(Sample.INPUT_IDS);
        int[] ids = Arrays.copyOf(promptIds, promptIds.length + maxNew);
        int n = promptIds.length;
        List<float[]> steps = new ArrayList<>();
        NDManager scope = manager.newSubManager();
        try {
            Batch batch = decoding != null ? decoding.prompt(scope, prompt, DataType.FLOAT32) : null;
            while (n < promptIds.length + maxNew) {
                if (decoding == null) {
                    scope.close();
                    scope = manager.newSubManager();
                    batch = model.collator().collate(scope, List.of(ImagePrompt.withIds(prompt, Arrays.copyOf(ids, n))),
                            DataType.FLOAT32, null);
                }
                float[] logits = lastLogits(engine.forward(scope, batch, new NDList(), params).singletonOrThrow());
                steps.add(logits);
                int next = argMax(logits);
                if (next == eos) {
                    return new Greedy(Arrays.copyOfRange(ids, promptIds.length, n), true, steps);
                }
                ids[n++] = next;
                if (decoding != null && n < promptIds.length + maxNew) {
                    NDManager following = manager.newSubManager();
                    try {
                        batch = decoding.next(following, batch, next, DataType.FLOAT32);
                    } catch (RuntimeException e) {
                        following.close();
                        throw e;
                    }
                    scope.close();
                    scope = following;
                }
            }
            return new Greedy(Arrays.copyOfRange(ids, promptIds.length, n), false, steps);
        } finally {
            scope.close();
        }
    }

    /** The logits of the last position of [1, s, vocab], as floats. */
    private static float[] lastLogits(NDArray logits) {
        long s = logits.getShape().get(1);
        return logits.reshape(s, -1).get(s - 1).toType(DataType.FLOAT32, false).toFloatArray();
    }

    /** The index of the largest value, the lowest one among equals. */
    static int argMax(float[] values) {
        int best = 0;
        for (int i = 1; i < values.length; i++) {
            if (values[i] > values[best]) {
                best = i;
            }
        }
        return best;
    }
}
