package ai.omnispark.trainer.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.omnispark.data.tokenizer.HfTokenizerFiles;
import ai.omnispark.data.tokenizer.Tokenizer;
import ai.omnispark.models.api.Model;
import ai.omnispark.models.api.Sample;
import ai.omnispark.parallel.engine.Recompute;
import ai.omnispark.parallel.engine.SegmentEngine;
import ai.omnispark.parallel.param.ParamStore;
import ai.omnispark.parallel.runtime.RankContext;
import ai.omnispark.trainer.config.ConfigException;
import ai.omnispark.trainer.job.RankAssembly;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * {@code generate --model HF_DIR [--adapter ADAPTER_DIR] (--text T | --ids 1,2,3) [--max-new-tokens N]
 * [--tokenizer byte|FILE]}: greedy continuation of a prompt, tokenized and decoded with the model
 * folder's tokenizer; with {@code --adapter}, of the base with a PEFT LoRA adapter on top, unmerged. Each
 * new token re-runs the whole prefix (no KV cache): meant for checking a trained model, not serving.
 */
final class GenerateCommand {
    static final int DEFAULT_NEW_TOKENS = 32;

    private GenerateCommand() {}

    /** The new tokens, and whether generation stopped at the end-of-sequence id. */
    record Greedy(int[] ids, boolean stoppedAtEos) {}

    static int run(String[] argv, PrintStream out) throws Exception {
        Args args = Args.parse(argv, 0, List.of("model", "adapter", "text", "ids", "tokenizer", "max-new-tokens",
                "threads"));
        Path dir = Path.of(args.required("model"));
        AdapterOption adapter = AdapterOption.of(args);
        int maxNew = args.positiveInt("max-new-tokens", String.valueOf(DEFAULT_NEW_TOKENS));
        int threads = args.positiveInt("threads", String.valueOf(Runtime.getRuntime().availableProcessors()));
        int[] prompt;
        Tokenizer tokenizer = null;
        try {
            Greedy result;
            try (RankContext rank = RankContext.single(threads)) {
                rank.bindThread();
                // The prompt is checked against the model's vocabulary before its weights are read.
                try (RankAssembly loaded = RankAssembly.of(AdapterOption.model(dir, adapter),
                        rank.manager(), DataType.FLOAT32, 0, null, false)) {
                    int vocab = loaded.model().vocabSize();
                    prompt = ScoreCommand.inputIds(args, dir, vocab);
                    if (prompt.length == 0) {
                        throw new ConfigException("nothing to continue: the prompt has no tokens");
                    }
                    // Decoding needs a tokenizer; with --ids and none in the folder, only ids are printed.
                    String spec = args.option("tokenizer", "");
                    tokenizer = !spec.isBlank() || Files.isRegularFile(dir.resolve(HfTokenizerFiles.TOKENIZER_JSON))
                            ? ModelTokenizer.open(dir, spec, vocab) : null;
                    com.fasterxml.jackson.databind.JsonNode generation = loaded.model().generationConfig();
                    int configEos = generation == null ? -1 : generation.path("eos_token_id").asInt(-1);
                    int eos = configEos >= 0 ? configEos : tokenizer != null ? tokenizer.eosId() : -1;
                    AdapterOption.load(loaded, dir, adapter, rank.manager());
                    result = greedy(loaded.model(), loaded.params(), rank.manager(), prompt, maxNew, eos);
                }
            }
            ObjectMapper json = new ObjectMapper();
            ObjectNode o = json.createObjectNode();
            Arrays.stream(prompt).forEach(o.putArray("prompt_ids")::add);
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
     * Appends the most likely next token (the lowest id among equals) until {@code eos} or
     * {@code maxNew} tokens; the end-of-sequence id itself is not returned.
     */
    static Greedy greedy(Model model, ParamStore params, NDManager manager, int[] prompt, int maxNew, int eos) {
        SegmentEngine engine = new SegmentEngine(model.evaluationSegments(), model.units(), Recompute.none());
        int[] ids = Arrays.copyOf(prompt, prompt.length + maxNew);
        int n = prompt.length;
        while (n < prompt.length + maxNew) {
            int[] labels = new int[n];
            int[] positions = new int[n];
            Arrays.fill(labels, Sample.IGNORE);
            Arrays.setAll(positions, i -> i);
            int next;
            try (NDManager scope = manager.newSubManager()) {
                var batch = model.collator().collate(scope,
                        List.of(Sample.tokens(Arrays.copyOf(ids, n), labels, positions, new int[n])), DataType.FLOAT32, null);
                NDArray logits = engine.forward(scope, batch, new NDList(), params).singletonOrThrow();
                next = (int) logits.reshape(n, -1).get(n - 1).argMax().getLong();
            }
            if (next == eos) {
                return new Greedy(Arrays.copyOfRange(ids, prompt.length, n), true);
            }
            ids[n++] = next;
        }
        return new Greedy(Arrays.copyOfRange(ids, prompt.length, n), false);
    }
}
