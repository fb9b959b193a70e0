package ai.omnispark.trainer.cli;

import ai.djl.ndarray.types.DataType;
import ai.omnispark.data.tokenizer.HfTokenizer;
import ai.omnispark.data.tokenizer.HfTokenizerFiles;
import ai.omnispark.data.tokenizer.Tokenizer;
import ai.omnispark.models.api.Model;
import ai.omnispark.models.api.ModelFamilies;
import ai.omnispark.models.api.ModelOptions;
import ai.omnispark.models.hf.HfCheckpoint;
import ai.omnispark.models.lora.PeftAdapter;
import ai.omnispark.models.lora.PeftConfig;
import ai.omnispark.parallel.checkpoint.CheckpointPaths;
import ai.omnispark.parallel.checkpoint.CheckpointReader;
import ai.omnispark.parallel.optim.AdamW;
import ai.omnispark.parallel.runtime.RankContext;
import ai.omnispark.parallel.safetensors.SafeDType;
import ai.omnispark.trainer.config.ConfigException;
import ai.omnispark.trainer.job.RankAssembly;
import ai.omnispark.trainer.job.RankJob;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * {@code export-hf --checkpoint CKPT_DIR --out DIR [--merge-lora] [--dtype F32|F16] [--tokenizer byte|FILE]}:
 * turns a {@code global_step_N} saved by any number of ranks into a HF folder, on one rank, with the
 * tokenizer it was trained with. The model config comes from {@code --config}, else the
 * checkpoint's {@code hf_ckpt/config.json}, else (a LoRA checkpoint, whose hf_ckpt holds the adapter,
 * with an adapter config.json for a Wan DiT) the base model its {@code lora_config} names. A LoRA
 * checkpoint (its extra state has {@code lora_config}) is exported with {@code --merge-lora} as merged
 * full weights (W + alpha/r·B·A), and without it as the base weights unmerged plus the adapter files
 * in the same folder (PEFT's form, or the family's {@link Model#adapterExport} final form). A
 * diffusers model's folder ({@link Model#hfFolderHasTokenizer} false) gets no tokenizer files.
 * Checkpoint and output may be on any Hadoop file system; see {@link #hadoopConf()}.
 */
final class ExportHfCommand {
    static final String MERGE_LORA = "merge-lora";
    private static final String LORA_CONFIG = "lora_config";

    private ExportHfCommand() {}

    static int run(String[] argv, PrintStream out) throws IOException {
        Args args = Args.parse(argv, 0, List.of("checkpoint", "out", "config", "dtype", "tokenizer"),
                List.of(MERGE_LORA));
        Configuration conf = hadoopConf();
        Path ckpt = new Path(args.required("checkpoint"));
        FileSystem fs = ckpt.getFileSystem(conf);
        if (!fs.exists(new Path(new Path(ckpt, CheckpointPaths.MODEL), CheckpointPaths.INDEX))) {
            throw new IllegalArgumentException("--checkpoint " + ckpt + " is not a committed global_step_N folder (no "
                    + CheckpointPaths.MODEL + "/" + CheckpointPaths.INDEX + ")");
        }
        SafeDType dtype = switch (args.option("dtype", "F32")) {
            case "F32" -> SafeDType.F32;
            case "F16" -> SafeDType.F16;
            default -> throw new IllegalArgumentException("--dtype must be F32 or F16");
        };
        Path dir = new Path(args.required("out"));
        FileSystem outFs = dir.getFileSystem(conf);
        PeftConfig lora = loraConfig(new CheckpointReader(fs, ckpt).extraState(), ckpt);
        boolean merge = args.flag(MERGE_LORA);
        if (merge && lora == null) {
            throw new ConfigException("--" + MERGE_LORA + ": checkpoint " + ckpt + " has no LoRA adapters (its extra "
                    + "state has no " + LORA_CONFIG + "), so there is nothing to merge; export it without --"
                    + MERGE_LORA);
        }
        long parameters;
        try (RankContext rank = RankContext.single(Runtime.getRuntime().availableProcessors())) {
            rank.bindThread();
            try (RankAssembly assembly = RankAssembly.of(model(fs, ckpt, args.option("config", ""), lora),
                        rank.manager(), DataType.FLOAT32, 0, null, false);
                    AdamW unused = new AdamW(rank.manager(), new AdamW.Config(0.9, 0.999, 1e-8, 0))) {
                Model model = assembly.model();
                // A diffusers folder has no tokenizer (the model takes embeddings).
                if (!model.hfFolderHasTokenizer() && !args.option("tokenizer", "").isBlank()) {
                    throw new ConfigException("--tokenizer: " + ckpt + " holds a " + model.family() + " model, whose "
                            + "folder carries no tokenizer (it takes text embeddings); export it without --tokenizer");
                }
                Map<String, byte[]> tokenizerFiles = !model.hfFolderHasTokenizer() ? Map.of()
                        : tokenizerFiles(fs, ckpt, args.option("tokenizer", ""), model.vocabSize());
                // Read everything first: a bad file fails here, before any output is written.
                new CheckpointReader(fs, ckpt).read(model.units(), assembly.params()::owned)
                        .applyTo(assembly.params(), unused, rank.manager());
                HfCheckpoint.FolderSink sink = name -> outFs.create(new Path(dir, name), true);
                boolean writesAdapter = lora != null && !merge;
                HfCheckpoint.write(model, HfCheckpoint.weights(model, assembly.params(), rank.manager(), dtype,
                        !writesAdapter), dtype, tokenizerFiles, sink);
                if (writesAdapter) {
                    // The folder holds the base the adapter goes on: transformers and PEFT load it from there.
                    PeftConfig adapterConfig = new PeftConfig(lora.lora(), dir.toString());
                    List<ai.omnispark.parallel.param.UnitLayout> adapterUnits =
                            List.copyOf(HfCheckpoint.adapterUnits(model).values());
                    if (model.adapterExport() != null) {
                        // The family's final_lora form (a Wan DiT: PEFT's diffusers naming).
                        model.adapterExport().writeFinal(adapterConfig,
                                PeftAdapter.gather(adapterUnits, assembly.params(), rank.manager()), sink);
                    } else {
                        PeftAdapter.write(adapterConfig, PeftAdapter.weights(adapterUnits, assembly.params(),
                                rank.manager(), lora.lora().rank(), model.stateDictAdapter()::toPeft), sink);
                    }
                }
                parameters = model.parameterCount();
            }
        }
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("hf_dir", dir.toString());
        result.put("checkpoint", ckpt.toString());
        result.put("parameters", parameters);
        result.put("lora", lora != null);
        // Without LoRA the weights are the model's own; with it, merged or base + adapter files.
        if (lora != null) {
            result.put("merged", merge);
        }
        result.put("adapter_dir", lora != null && !merge ? dir.toString() : null);
        out.println(new ObjectMapper().writeValueAsString(result));
        return 0;
    }

    /** The LoRA settings a LoRA run's checkpoint records in its extra state; null for a full fine-tune. */
    private static PeftConfig loraConfig(JsonNode extra, Path ckpt) {
        JsonNode node = extra.get(LORA_CONFIG);
        if (node == null || node.isNull()) {
            return null;
        }
        try {
            return PeftConfig.fromJson(node, ckpt + " extra state " + LORA_CONFIG);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(e.getMessage(), e);
        }
    }

    /**
     * Hadoop settings as a Spark driver would see them: core-site.xml on the classpath, then every
     * {@code spark.hadoop.*} system property (spark-submit's {@code --conf}, or {@code -D} in
     * {@code JAVA_OPTS}), so {@code hdfs://} and {@code s3a://} checkpoints read with the same
     * settings the training job wrote them with.
     */
    static Configuration hadoopConf() {
        return org.apache.spark.deploy.SparkHadoopUtil.get().newConfiguration(new org.apache.spark.SparkConf());
    }

    /**
     * The tokenizer files the export carries: {@code --tokenizer}'s when given, else those the
     * checkpoint's {@code hf_ckpt/} carries, else the files of the tokenizer its extra state names.
     */
    private static Map<String, byte[]> tokenizerFiles(FileSystem fs, Path ckpt, String spec, int vocabSize)
            throws IOException {
        if (spec.isBlank()) {
            Path hf = new Path(ckpt, CheckpointPaths.HF);
            Path json = new Path(hf, HfTokenizerFiles.TOKENIZER_JSON);
            if (fs.exists(json)) {
                Map<String, byte[]> files = new LinkedHashMap<>();
                for (String name : List.of(HfTokenizerFiles.TOKENIZER_JSON, HfTokenizerFiles.TOKENIZER_CONFIG)) {
                    Path f = new Path(hf, name);
                    if (fs.exists(f)) {
                        try (InputStream in = fs.open(f)) {
                            files.put(name, in.readAllBytes());
                        }
                    }
                }
                try (HfTokenizer t = HfTokenizer.load(files.get(HfTokenizerFiles.TOKENIZER_JSON), json.toString())) {
                    ModelTokenizer.checkFits(t, vocabSize, ckpt.toString());
                }
                return files;
            }
            spec = new CheckpointReader(fs, ckpt).extraState().path("tokenizer").asText("");
            if (spec.isBlank()) {
                throw new ConfigException(ckpt + " does not say which tokenizer it was trained with (saved before "
                        + "tokenizers travelled with checkpoints): pass --tokenizer TOKENIZER_JSON, or --tokenizer byte");
            }
            if (!spec.equals(RankJob.TOKENIZER_BYTE) && !java.nio.file.Files.exists(java.nio.file.Path.of(spec))) {
                throw new ConfigException(ckpt + " was trained with the tokenizer " + spec + ", which is not there "
                        + "any more: pass --tokenizer TOKENIZER_JSON");
            }
        }
        Tokenizer t = ModelTokenizer.named(spec);
        try {
            ModelTokenizer.checkFits(t, vocabSize, ckpt.toString());
            return t.hfFiles();
        } finally {
            ModelTokenizer.close(t);
        }
    }

    /**
     * Whether {@code file} describes an adapter, not a model: a Wan LoRA checkpoint's hf_ckpt/ holds
     * the adapter with a config.json of PEFT's fields ({@code peft_type}) beside it.
     */
    private static boolean isAdapterConfig(FileSystem fs, Path file) throws IOException {
        try (InputStream in = fs.open(file)) {
            return new ObjectMapper().readTree(in).has("peft_type");
        }
    }

    /**
     * The model of {@code --config}, else of the config.json the checkpoint's hf_ckpt/ carries, else
     * (LoRA) of the base model the checkpoint's lora_config names; with the adapters of {@code lora}.
     */
    private static Model model(FileSystem fs, Path ckpt, String override, PeftConfig lora) throws IOException {
        ModelOptions options = new ModelOptions("auto", 0, lora == null ? null : lora.lora());
        if (!override.isBlank()) {
            return ModelFamilies.load(java.nio.file.Path.of(override), options);
        }
        Path file = new Path(new Path(ckpt, CheckpointPaths.HF), "config.json");
        if (!fs.exists(file) || lora != null && isAdapterConfig(fs, file)) {
            String base = lora == null ? null : lora.baseModel();
            if (base != null && !base.isBlank() && java.nio.file.Files.exists(java.nio.file.Path.of(base))) {
                return ModelFamilies.load(java.nio.file.Path.of(base), options);
            }
            throw new IllegalArgumentException(ckpt + " has no model config in " + CheckpointPaths.HF + "/ ("
                    + (lora == null ? "saved with train.save_hf_weights=false"
                            : "a LoRA checkpoint, whose base model " + base + " is not there")
                    + "); pass --config CONFIG_JSON");
        }
        try (InputStream in = fs.open(file)) {
            JsonNode json = new ObjectMapper().readTree(in);
            try {
                return ModelFamilies.build(json, options);
            } catch (IllegalArgumentException e) {
                throw new IOException(file + ": " + e.getMessage(), e);
            }
        }
    }
}
