package ai.omnispark.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.data.tokenizer.ByteTokenizer;
import ai.omnispark.models.api.ModelFamilies;
import ai.omnispark.models.api.ModelOptions;
import ai.omnispark.models.hf.HfCheckpoint;
import ai.omnispark.models.lora.LoraConfig;
import ai.omnispark.models.lora.PeftAdapter;
import ai.omnispark.models.lora.PeftConfig;
import ai.omnispark.parallel.checkpoint.CheckpointPaths;
import ai.omnispark.parallel.checkpoint.Checkpointer;
import ai.omnispark.parallel.checkpoint.RankState;
import ai.omnispark.parallel.optim.AdamW;
import ai.omnispark.parallel.param.UnitLayout;
import ai.omnispark.parallel.runtime.RankContext;
import ai.omnispark.parallel.safetensors.SafeDType;
import ai.omnispark.parallel.safetensors.SafeTensorsReader;
import ai.omnispark.parallel.safetensors.TensorInfo;
import ai.omnispark.trainer.job.RankAssembly;
import ai.omnispark.trainer.testing.TinyModel;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The LoRA side of the CLI through {@code Main}: {@code score --adapter} (base + unmerged PEFT
 * adapter) against {@code score} of the merged weights, and {@code export-hf} of a LoRA checkpoint
 * merged (against W + alpha/r·B·A computed here in float64 from the base and adapter files) and
 * unmerged (base bit-identical, adapter equal), plus the ways an adapter or a checkpoint is refused.
 */
class LoraCommandsTest {
    /** Dropout 0.1 on purpose: scoring must ignore it (with it on, two scorings would differ). */
    private static final LoraConfig LORA = new LoraConfig(4, 8, 0.1, List.of("q_proj", "v_proj", "o_proj", "down_proj"));
    private static final String IDS = "97,32,114,101,100,32,102,111,120,46";

    @TempDir
    static Path tmp;
    static Path base;
    static Path adapter;
    static Path merged;
    static Path loraCkpt;
    static Path plainCkpt;

    /**
     * The tiny model with seeded weights as a base folder; a LoRA model on it whose B matrices are
     * set to random non-zero values, written as a PEFT adapter, as merged HF weights and as a
     * checkpoint whose extra state carries lora_config (as a LoRA run's RankJob writes it); and a
     * checkpoint of the base alone.
     */
    @BeforeAll
    static void writeModels() throws Exception {
        Path config = Path.of("..", "conf", "models", "tiny-qwen3.json");
        base = tmp.resolve("base");
        adapter = tmp.resolve("adapter");
        merged = tmp.resolve("merged");
        Files.createDirectories(base);
        Files.createDirectories(adapter);
        Files.createDirectories(merged);
        FileSystem fs = FileSystem.getLocal(new Configuration());
        try (RankContext rank = RankContext.single(1)) {
            rank.bindThread();
            try (RankAssembly plain = RankAssembly.of(ModelFamilies.load(config, ModelOptions.defaults()),
                    rank.manager(), DataType.FLOAT32, 7, null, false)) {
                HfCheckpoint.write(plain.model(), HfCheckpoint.weights(plain.model(), plain.params(), rank.manager(),
                        SafeDType.F32), SafeDType.F32, new ByteTokenizer().hfFiles(),
                        name -> Files.newOutputStream(base.resolve(name)));
                plainCkpt = saveCheckpoint(fs, plain, rank, tmp.resolve("plain-run"), null);
            }
            try (RankAssembly lora = RankAssembly.of(ModelFamilies.load(config, new ModelOptions("auto", 0, LORA)),
                    rank.manager(), DataType.FLOAT32, 11, null, false)) {
                lora.loadHf(base, rank.manager());
                SplittableRandom random = new SplittableRandom(3);
                List<UnitLayout> adapterUnits = List.copyOf(HfCheckpoint.adapterUnits(lora.model()).values());
                assertEquals(4, adapterUnits.size(), "one adapter unit per block");
                for (UnitLayout u : adapterUnits) {
                    float[] values;
                    try (var scope = rank.manager().newSubManager()) {
                        values = lora.params().fullWeights(u.name(), scope).toFloatArray();
                    }
                    for (var p : u.params()) {
                        if (p.name().endsWith(PeftAdapter.B_SUFFIX)) {
                            for (long i = u.offset(p.name()); i < u.offset(p.name()) + p.numel(); i++) {
                                values[(int) i] = (float) random.nextDouble(-0.05, 0.05);
                            }
                        }
                    }
                    try (var scope = rank.manager().newSubManager()) {
                        lora.params().loadFullWeights(u.name(), scope.create(values, new Shape(values.length)));
                    }
                }
                PeftAdapter.write(new PeftConfig(LORA, base.toString()), PeftAdapter.weights(adapterUnits,
                        lora.params(), rank.manager(), LORA.rank(), lora.model().stateDictAdapter()::toPeft),
                        name -> Files.newOutputStream(adapter.resolve(name)));
                HfCheckpoint.write(lora.model(), HfCheckpoint.weights(lora.model(), lora.params(), rank.manager(),
                        SafeDType.F32), SafeDType.F32, new ByteTokenizer().hfFiles(),
                        name -> Files.newOutputStream(merged.resolve(name)));
                loraCkpt = saveCheckpoint(fs, lora, rank, tmp.resolve("lora-run"), new PeftConfig(LORA, base.toString()));
            }
        }
    }

    /** A committed global_step_1 of {@code assembly}, its extra state as RankJob writes it (no hf_ckpt). */
    private static Path saveCheckpoint(FileSystem fs, RankAssembly assembly, RankContext rank, Path root,
            PeftConfig lora) throws IOException {
        ObjectNode extra = new ObjectMapper().createObjectNode();
        extra.put("global_step", 1);
        extra.put("tokenizer", "byte");
        if (lora != null) {
            extra.set("lora_config", lora.toJson());
        }
        org.apache.hadoop.fs.Path hadoopRoot = new org.apache.hadoop.fs.Path(root.toUri());
        try (AdamW optimizer = new AdamW(rank.manager(), new AdamW.Config(0.9, 0.999, 1e-8, 0));
                Checkpointer c = new Checkpointer(fs, hadoopRoot, 0, 1, x -> x, 0)) {
            c.save(1, RankState.capture(assembly.params(), optimizer), extra, null, assembly.model().units(), false);
        }
        return Path.of(CheckpointPaths.step(hadoopRoot, 1).toUri());
    }

    @Test
    void scoreWithAdapterEqualsScoreOfTheMergedWeights() throws Exception {
        JsonNode withAdapter = run(0, "score", "--model", base.toString(), "--adapter", adapter.toString(),
                "--ids", IDS, "--threads", "1");
        JsonNode ofMerged = run(0, "score", "--model", merged.toString(), "--ids", IDS, "--threads", "1");
        JsonNode ofBase = run(0, "score", "--model", base.toString(), "--ids", IDS, "--threads", "1");
        assertEquals(adapter.toString(), withAdapter.get("adapter").asText());
        double maxDiff = 0;
        double adapterEffect = 0;
        for (int t = 1; t < withAdapter.get("logprobs").size(); t++) {
            double lp = withAdapter.get("logprobs").get(t).asDouble();
            maxDiff = Math.max(maxDiff, Math.abs(lp - ofMerged.get("logprobs").get(t).asDouble()));
            adapterEffect = Math.max(adapterEffect, Math.abs(lp - ofBase.get("logprobs").get(t).asDouble()));
        }
        assertTrue(maxDiff <= 1e-5, "score --adapter differs from the merged weights' score by " + maxDiff);
        // Otherwise the comparison above would pass with the adapter ignored.
        assertTrue(adapterEffect > 1e-3, "the adapter moves no log-prob by more than 1e-3: " + adapterEffect);

        JsonNode generated = run(0, "generate", "--model", base.toString(), "--adapter", adapter.toString(),
                "--ids", IDS, "--max-new-tokens", "3", "--threads", "1");
        JsonNode generatedMerged = run(0, "generate", "--model", merged.toString(), "--ids", IDS,
                "--max-new-tokens", "3", "--threads", "1");
        assertEquals(generatedMerged.get("ids"), generated.get("ids"));
    }

    @Test
    void exportHfMergeLoraWritesWPlusScaledBA() throws Exception {
        Path out = tmp.resolve("export-merged");
        JsonNode result = run(0, "export-hf", "--checkpoint", loraCkpt.toString(), "--out", out.toString(),
                "--merge-lora");
        assertTrue(result.get("lora").asBoolean());
        assertTrue(result.get("merged").asBoolean());
        assertTrue(result.get("adapter_dir").isNull());
        assertFalse(Files.exists(out.resolve(PeftAdapter.WEIGHTS)));

        Map<String, float[]> exported = tensors(out.resolve(HfCheckpoint.WEIGHTS));
        Map<String, float[]> baseWeights = tensors(base.resolve(HfCheckpoint.WEIGHTS));
        Map<String, float[]> ab = tensors(adapter.resolve(PeftAdapter.WEIGHTS));
        assertEquals(baseWeights.keySet(), exported.keySet());
        double scale = LORA.alpha() / LORA.rank();
        int mergedCount = 0;
        try (SafeTensorsReader reader = SafeTensorsReader.open(base.resolve(HfCheckpoint.WEIGHTS))) {
            for (TensorInfo info : reader.tensors()) {
                String name = info.name();
                float[] w = baseWeights.get(name);
                float[] got = exported.get(name);
                String module = name.substring(0, name.length() - ".weight".length());
                float[] a = ab.get(PeftAdapter.KEY_PREFIX + module + PeftAdapter.A_SUFFIX);
                if (a == null) {
                    assertArrayEquals(w, got, name + " has no adapter: exported as it is");
                    continue;
                }
                float[] b = ab.get(PeftAdapter.KEY_PREFIX + module + PeftAdapter.B_SUFFIX);
                int outDim = (int) info.shape()[0];
                int inDim = (int) info.shape()[1];
                int r = LORA.rank();
                double maxDiff = 0;
                for (int o = 0; o < outDim; o++) {
                    for (int i = 0; i < inDim; i++) {
                        double ba = 0;
                        for (int k = 0; k < r; k++) {
                            ba += (double) b[o * r + k] * a[k * inDim + i];
                        }
                        double want = w[o * inDim + i] + scale * ba;
                        maxDiff = Math.max(maxDiff, Math.abs(want - got[o * inDim + i]));
                    }
                }
                assertTrue(maxDiff <= 1e-6, name + ": merged export differs from W + alpha/r B A by " + maxDiff);
                mergedCount++;
            }
        }
        assertEquals(4 * 4, mergedCount, "q, v, o and down of 4 blocks are merged");
        // The merged export is a plain HF folder: score reads it like any other.
        assertEquals(run(0, "score", "--model", merged.toString(), "--ids", IDS, "--threads", "1").get("logprobs"),
                run(0, "score", "--model", out.toString(), "--ids", IDS, "--threads", "1").get("logprobs"));
    }

    @Test
    void exportHfWithoutMergeWritesTheBaseAsItIsAndTheAdapter() throws Exception {
        Path out = tmp.resolve("export-unmerged");
        JsonNode result = run(0, "export-hf", "--checkpoint", loraCkpt.toString(), "--out", out.toString());
        assertTrue(result.get("lora").asBoolean());
        assertFalse(result.get("merged").asBoolean());
        assertEquals(out.toString(), result.get("adapter_dir").asText());

        Map<String, ByteBuffer> exportedBase = rawTensors(out.resolve(HfCheckpoint.WEIGHTS));
        Map<String, ByteBuffer> baseBytes = rawTensors(base.resolve(HfCheckpoint.WEIGHTS));
        assertEquals(baseBytes.keySet(), exportedBase.keySet());
        for (String name : baseBytes.keySet()) {
            assertEquals(baseBytes.get(name), exportedBase.get(name), name + " is not bit-identical to the base");
        }
        Map<String, float[]> exportedAdapter = tensors(out.resolve(PeftAdapter.WEIGHTS));
        Map<String, float[]> written = tensors(adapter.resolve(PeftAdapter.WEIGHTS));
        assertEquals(written.keySet(), exportedAdapter.keySet());
        for (String key : written.keySet()) {
            assertArrayEquals(written.get(key), exportedAdapter.get(key), key);
        }
        PeftConfig config = PeftAdapter.readConfig(out);
        assertEquals(LORA, config.lora());
        assertEquals(out.toString(), config.baseModel());
        // The folder is base + adapter: scoring it that way gives the merged weights' log-probs.
        JsonNode both = run(0, "score", "--model", out.toString(), "--adapter", out.toString(), "--ids", IDS,
                "--threads", "1");
        JsonNode ofMerged = run(0, "score", "--model", merged.toString(), "--ids", IDS, "--threads", "1");
        for (int t = 1; t < both.get("logprobs").size(); t++) {
            assertEquals(ofMerged.get("logprobs").get(t).asDouble(), both.get("logprobs").get(t).asDouble(), 1e-5);
        }
    }

    @Test
    void badAdaptersAndCheckpointsExitTwoSayingWhy() throws Exception {
        assertTrue(runText(2, "score", "--model", base.toString(), "--adapter", tmp.resolve("nowhere").toString(),
                "--ids", IDS).contains("is not a folder"));

        Path empty = Files.createDirectories(tmp.resolve("empty-adapter"));
        assertTrue(runText(2, "score", "--model", base.toString(), "--adapter", empty.toString(), "--ids", IDS)
                .contains("has no adapter_config.json"));

        Path noWeights = copyAdapter("no-weights");
        Files.delete(noWeights.resolve(PeftAdapter.WEIGHTS));
        assertTrue(runText(2, "score", "--model", base.toString(), "--adapter", noWeights.toString(), "--ids", IDS)
                .contains("has no adapter_model.safetensors"));

        Path prefix = copyAdapter("prefix-tuning");
        editConfig(prefix, c -> c.put("peft_type", "PREFIX_TUNING"));
        assertTrue(runText(2, "score", "--model", base.toString(), "--adapter", prefix.toString(), "--ids", IDS)
                .contains("only LORA adapters are supported"));

        Path noMatch = copyAdapter("no-match");
        editConfig(noMatch, c -> c.putArray("target_modules").add("c_attn"));
        String noMatchErr = runText(2, "score", "--model", base.toString(), "--adapter", noMatch.toString(),
                "--ids", IDS);
        assertTrue(noMatchErr.contains("'c_attn', which matches no linear"), noMatchErr);
        assertTrue(noMatchErr.contains(noMatch.toString()), noMatchErr);

        // An adapter trained on a narrower model of the same layout: A and B do not fit this base.
        Path narrowAdapter = Files.createDirectories(tmp.resolve("narrow-adapter"));
        try (RankContext rank = RankContext.single(1)) {
            rank.bindThread();
            try (RankAssembly narrow = RankAssembly.of(ModelFamilies.load(TinyModel.write(
                    Files.createDirectories(tmp.resolve("narrow")), true), new ModelOptions("auto", 0, LORA)),
                    rank.manager(), DataType.FLOAT32, 5, null, false)) {
                PeftAdapter.write(new PeftConfig(LORA, null), PeftAdapter.weights(
                        List.copyOf(HfCheckpoint.adapterUnits(narrow.model()).values()), narrow.params(),
                        rank.manager(), LORA.rank(), narrow.model().stateDictAdapter()::toPeft),
                        name -> Files.newOutputStream(narrowAdapter.resolve(name)));
            }
        }
        String shapeErr = runText(2, "score", "--model", base.toString(), "--adapter", narrowAdapter.toString(),
                "--ids", IDS);
        assertTrue(shapeErr.contains("does not fit the model of " + base) && shapeErr.contains("has shape"), shapeErr);

        String mergePlain = runText(2, "export-hf", "--checkpoint", plainCkpt.toString(), "--out",
                tmp.resolve("never").toString(), "--merge-lora");
        assertTrue(mergePlain.contains("--merge-lora: checkpoint") && mergePlain.contains("has no LoRA adapters"),
                mergePlain);
        assertFalse(Files.exists(tmp.resolve("never")));
        assertTrue(runText(2, "export-hf", "--checkpoint", loraCkpt.toString(), "--out",
                tmp.resolve("never").toString(), "--merge-lora=yes").contains("--merge-lora is a flag"));
    }

    @Test
    void helpNamesTheLoraOptions() {
        String help = runText(0, "help");
        assertTrue(help.contains("score --model HF_DIR [--adapter ADAPTER_DIR]"), help);
        assertTrue(help.contains("export-hf --checkpoint CKPT_DIR --out DIR [--merge-lora]"), help);
    }

    private static Path copyAdapter(String name) throws IOException {
        Path dir = Files.createDirectories(tmp.resolve(name));
        for (String f : List.of(PeftAdapter.CONFIG, PeftAdapter.WEIGHTS)) {
            Files.copy(adapter.resolve(f), dir.resolve(f));
        }
        return dir;
    }

    private static void editConfig(Path dir, java.util.function.Consumer<ObjectNode> edit) throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode config = (ObjectNode) json.readTree(dir.resolve(PeftAdapter.CONFIG).toFile());
        edit.accept(config);
        Files.writeString(dir.resolve(PeftAdapter.CONFIG), config.toString());
    }

    private static Map<String, float[]> tensors(Path file) throws IOException {
        Map<String, float[]> out = new HashMap<>();
        try (SafeTensorsReader reader = SafeTensorsReader.open(file)) {
            for (TensorInfo t : reader.tensors()) {
                out.put(t.name(), reader.readFloats(t.name()));
            }
        }
        return out;
    }

    private static Map<String, ByteBuffer> rawTensors(Path file) throws IOException {
        Map<String, ByteBuffer> out = new HashMap<>();
        try (SafeTensorsReader reader = SafeTensorsReader.open(file)) {
            for (TensorInfo t : reader.tensors()) {
                ByteBuffer b = reader.read(t.name());
                ByteBuffer copy = ByteBuffer.allocate(b.remaining());
                copy.put(b.duplicate()).flip();
                out.put(t.name() + " " + t.dtype() + java.util.Arrays.toString(t.shape()), copy);
            }
        }
        return out;
    }

    private static JsonNode run(int expectedExit, String... argv) throws Exception {
        String text = runText(expectedExit, argv);
        String[] lines = text.strip().split("\n");
        return new ObjectMapper().readTree(lines[lines.length - 1]);
    }

    private static String runText(int expectedExit, String... argv) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        int code = MainAccess.run(argv, new PrintStream(bytes, true, StandardCharsets.UTF_8));
        String text = bytes.toString(StandardCharsets.UTF_8);
        assertEquals(expectedExit, code, text);
        return text;
    }
}
