package ai.omnispark.trainer.cli;

import ai.djl.ndarray.types.DataType;
import ai.omnispark.data.tokenizer.HfTokenizer;
import ai.omnispark.data.tokenizer.HfTokenizerFiles;
import ai.omnispark.data.tokenizer.Tokenizer;
import ai.omnispark.models.hf.HfCheckpoint;
import ai.omnispark.models.hf.HfConfig;
import ai.omnispark.models.llm.DecoderConfig;
import ai.omnispark.models.llm.DecoderLM;
import ai.omnispark.parallel.checkpoint.CheckpointPaths;
import ai.omnispark.parallel.checkpoint.CheckpointReader;
import ai.omnispark.parallel.optim.AdamW;
import ai.omnispark.parallel.param.ParamStore;
import ai.omnispark.parallel.param.ParamStores;
import ai.omnispark.parallel.runtime.RankContext;
import ai.omnispark.parallel.safetensors.SafeDType;
import ai.omnispark.trainer.config.ConfigException;
import ai.omnispark.trainer.job.RankJob;
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
 * {@code export-hf --checkpoint CKPT_DIR --out DIR [--dtype F32|F16] [--tokenizer byte|FILE]}: turns a
 * {@code global_step_N} saved by any number of ranks into a HF folder, on one rank, with the
 * tokenizer it was trained with. The model config comes from the
 * checkpoint's {@code hf_ckpt/config.json}, or from {@code --config} when the save had none.
 * Checkpoint and output may be on any Hadoop file system; see {@link #hadoopConf()}.
 */
final class ExportHfCommand {
    private ExportHfCommand() {}

    static int run(String[] argv, PrintStream out) throws IOException {
        Args args = Args.parse(argv, 0, List.of("checkpoint", "out", "config", "dtype", "tokenizer"));
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
        DecoderConfig config = config(fs, ckpt, args.option("config", ""));
        Map<String, byte[]> tokenizerFiles = tokenizerFiles(fs, ckpt, args.option("tokenizer", ""), config.vocabSize());
        DecoderLM model = new DecoderLM(config);
        Path dir = new Path(args.required("out"));
        FileSystem outFs = dir.getFileSystem(conf);
        try (RankContext rank = RankContext.single(Runtime.getRuntime().availableProcessors());
                ParamStore params = ParamStores.build(rank.manager(), model.units(), DataType.FLOAT32, 0, null, true);
                AdamW unused = new AdamW(rank.manager(), new AdamW.Config(0.9, 0.999, 1e-8, 0))) {
            rank.bindThread();
            // Read everything first: a bad file fails here, before any output is written.
            new CheckpointReader(fs, ckpt).read(model.units(), params::owned).applyTo(params, unused, rank.manager());
            HfCheckpoint.write(config, HfCheckpoint.weights(model, params, rank.manager(), dtype), dtype,
                    tokenizerFiles, name -> outFs.create(new Path(dir, name), true));
        }
        out.println(new ObjectMapper().writeValueAsString(Map.of("hf_dir", dir.toString(),
                "checkpoint", ckpt.toString(), "parameters", config.parameterCount())));
        return 0;
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

    private static DecoderConfig config(FileSystem fs, Path ckpt, String override) throws IOException {
        if (!override.isBlank()) {
            return HfConfig.read(java.nio.file.Path.of(override));
        }
        Path file = new Path(new Path(ckpt, CheckpointPaths.HF), "config.json");
        if (!fs.exists(file)) {
            throw new IllegalArgumentException(ckpt + " has no " + CheckpointPaths.HF
                    + "/config.json (saved with train.save_hf_weights=false); pass --config CONFIG_JSON");
        }
        try (InputStream in = fs.open(file)) {
            return HfConfig.parse(new ObjectMapper().readTree(in));
        }
    }
}
