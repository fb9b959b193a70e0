package ai.omnispark.trainer.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.omnispark.data.tokenizer.Tokenizer;
import ai.omnispark.models.api.Model;
import ai.omnispark.models.api.ModelMetrics;
import ai.omnispark.models.api.Sample;
import ai.omnispark.parallel.engine.Batch;
import ai.omnispark.parallel.engine.Recompute;
import ai.omnispark.parallel.engine.SegmentEngine;
import ai.omnispark.parallel.param.ParamStore;
import ai.omnispark.parallel.runtime.RankContext;
import ai.omnispark.trainer.config.ConfigException;
import ai.omnispark.trainer.job.RankAssembly;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * {@code score --model HF_DIR [--adapter ADAPTER_DIR] (--text T | --ids 1,2,3) [--pixel-values F.safetensors]
 * [--tokenizer byte|TOKENIZER_JSON]}:
 * log-prob of each token given its prefix, then the model's own fields over the scored ids
 * ({@link ModelMetrics}; a MoE model's {@code aux_loss}, unscaled as transformers returns it with
 * {@code output_router_logits}, and its tokens per expert). Text is tokenized with the tokenizer the model folder
 * carries. With {@code --adapter}, the model folder is the base and a PEFT LoRA adapter runs on top
 * of it unmerged ({@link AdapterOption}). With {@code --pixel-values}, a vision-language model's image
 * placeholders in the ids take the images of the file ({@link PixelValuesFile}: {@code pixel_values} and
 * {@code image_grid_thw} exactly as HF's image processor returns them).
 */
final class ScoreCommand {
    private ScoreCommand() {}

    static int run(String[] argv, PrintStream out) throws Exception {
        Args args = Args.parse(argv, 0, List.of("model", "adapter", "text", "ids", "tokenizer", "threads",
                "pixel-values"));
        Path dir = Path.of(args.required("model"));
        AdapterOption adapter = AdapterOption.of(args);
        int threads = Integer.parseInt(args.option("threads", String.valueOf(Runtime.getRuntime().availableProcessors())));
        try (RankContext rank = RankContext.single(threads)) {
            rank.bindThread();
            // The input is checked against the model's vocabulary before its weights are read.
            try (RankAssembly loaded = RankAssembly.of(AdapterOption.model(dir, adapter),
                    rank.manager(), DataType.FLOAT32, 0, null, false)) {
                int[] ids = inputIds(args, dir, loaded.model().vocabSize());
                if (ids.length == 0) {
                    throw new ConfigException("nothing to score: the input has no tokens");
                }
                Model model = loaded.model();
                PixelValuesFile images = null;
                if (args.options.containsKey("pixel-values")) {
                    if (model.processorMedia() == null) {
                        throw new ConfigException("--pixel-values: " + dir + " is a " + model.family()
                                + " model, which takes no images");
                    }
                    images = PixelValuesFile.read(Path.of(args.options.get("pixel-values")),
                            model.processorMedia().pixelRowElements());
                }
                AdapterOption.load(loaded, dir, adapter, rank.manager());
                ModelMetrics metrics = model.metrics();
                metrics.clear();
                PixelValuesFile media = images;
                double[] logprobs = media == null ? logprobs(model, loaded.params(), rank.manager(), ids)
                        : logprobs(model, loaded.params(), rank.manager(), ids, scope -> imageBatch(model, scope, ids,
                                media, "--pixel-values " + args.options.get("pixel-values")));
                ObjectMapper json = new ObjectMapper();
                ObjectNode o = json.createObjectNode();
                if (adapter != null) {
                    o.put("adapter", adapter.dir().toString());
                }
                ArrayNode idArray = o.putArray("ids");
                for (int id : ids) {
                    idArray.add(id);
                }
                ArrayNode lp = o.putArray("logprobs");
                lp.addNull();
                for (int i = 1; i < ids.length; i++) {
                    lp.add(logprobs[i]);
                }
                // What the model recorded over the scored ids: for a MoE its unscaled aux_loss (as
                // transformers returns it with output_router_logits) and tokens per expert.
                metrics.fields(metrics.sums(), Map.of()).forEach(o::put);
                out.println(json.writeValueAsString(o));
            }
        }
        return 0;
    }

    /**
     * The ids of {@code --text} (tokenized with the model folder's tokenizer, or {@code --tokenizer})
     * or of {@code --ids}, each checked to lie inside the model's vocabulary.
     */
    static int[] inputIds(Args args, Path dir, int vocabSize) throws java.io.IOException {
        if (args.options.containsKey("text") == args.options.containsKey("ids")) {
            throw new ConfigException("give exactly one of --text and --ids");
        }
        if (args.options.containsKey("text")) {
            Tokenizer tokenizer = ModelTokenizer.open(dir, args.option("tokenizer", ""), vocabSize);
            try {
                return tokenizer.encode(args.options.get("text"));
            } finally {
                ModelTokenizer.close(tokenizer);
            }
        }
        int[] ids;
        try {
            ids = java.util.Arrays.stream(args.options.get("ids").split(",")).map(String::trim)
                    .mapToInt(Integer::parseInt).toArray();
        } catch (NumberFormatException e) {
            throw new ConfigException("--ids takes comma-separated integers, got '" + args.options.get("ids") + "'");
        }
        for (int id : ids) {
            if (id < 0 || id >= vocabSize) {
                throw new ConfigException("--ids: " + id + " is outside the model's vocabulary [0, " + vocabSize + ")");
            }
        }
        return ids;
    }

    /** {@code result[t]} = log p(ids[t] | ids[0..t-1]) for t >= 1. */
    static double[] logprobs(Model model, ParamStore params, NDManager manager, int[] ids) {
        int n = ids.length;
        int[] labels = new int[n];
        int[] pos = new int[n];
        int[] doc = new int[n];
        for (int i = 0; i < n; i++) {
            labels[i] = Sample.IGNORE;
            pos[i] = i;
        }
        return logprobs(model, params, manager, ids, scope -> model.collator().collate(scope,
                List.of(Sample.tokens(ids, labels, pos, doc)), DataType.FLOAT32, null));
    }

    /** The model's batch of {@code ids} with the file's images; a bad combination is a {@link ConfigException}. */
    private static Batch imageBatch(Model model, NDManager scope, int[] ids, PixelValuesFile images, String what) {
        try {
            return model.processorMedia().imageBatch(scope, ids, images.pixelValues(), images.grids(),
                    DataType.FLOAT32);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(what + " does not fit --ids: " + e.getMessage(), e);
        }
    }

    /** As {@link #logprobs(Model, ParamStore, NDManager, int[])} over the batch {@code batchOf} builds. */
    static double[] logprobs(Model model, ParamStore params, NDManager manager, int[] ids,
            java.util.function.Function<NDManager, Batch> batchOf) {
        int n = ids.length;
        try (NDManager scope = manager.newSubManager()) {
            Batch batch = batchOf.apply(scope);
            SegmentEngine engine = new SegmentEngine(model.evaluationSegments(), model.units(), Recompute.none());
            NDArray logits = engine.forward(scope, batch, new NDList(), params).singletonOrThrow();
            float[] logp = logits.reshape(n, -1).logSoftmax(-1).toType(DataType.FLOAT32, false).toFloatArray();
            int vocab = model.vocabSize();
            double[] result = new double[n];
            for (int t = 1; t < n; t++) {
                result[t] = logp[(t - 1) * vocab + ids[t]];
            }
            return result;
        }
    }
}
