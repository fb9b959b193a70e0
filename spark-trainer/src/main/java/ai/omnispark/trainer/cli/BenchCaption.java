package ai.omnispark.trainer.cli;

import ai.djl.ndarray.types.DataType;
import ai.omnispark.data.sample.SyntheticSample;
import ai.omnispark.data.sample.SyntheticText;
import ai.omnispark.data.tokenizer.Tokenizer;
import ai.omnispark.models.api.Sample;
import ai.omnispark.parallel.runtime.RankContext;
import ai.omnispark.trainer.config.ConfigException;
import ai.omnispark.trainer.job.RankAssembly;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import javax.imageio.ImageIO;

/**
 * {@code bench caption --model HF_DIR [--images 50] [--seed S] [--prompt T] [--max-new-tokens N]
 * [--moved F] [--threads T]}: how often a vision-language model trained on {@code sample}'s
 * image-text set names what fresh images show. It draws scenes as {@link SyntheticSample} does
 * (another seed than the training sample's: {@code sample} defaults to 42, this to
 * {@link #DEFAULT_SEED}), renders each as a PNG (with {@code --moved F}, the shape moved along its
 * motion by a uniform fraction in [0, F] of a quarter side, so no pixel grid of training repeats),
 * captions it greedily with {@code generate}'s decoding, and prints one JSON line with the
 * colour, shape and size accuracies ({@link CaptionScore}) and a few examples.
 */
final class BenchCaption {
    static final long DEFAULT_SEED = 20261130L;
    private static final int EXAMPLES = 5;

    private BenchCaption() {}

    /** Captions an encoded image. */
    @FunctionalInterface
    interface Captioner {
        String caption(byte[] png);
    }

    /** What the bench measured over its scenes. */
    record Result(int images, double colourAccuracy, double shapeAccuracy, double sizeAccuracy,
            List<String[]> examples) {}

    static int run(String[] argv, PrintStream out) throws Exception {
        Args args = Args.parse(argv, 0, List.of("model", "images", "seed", "prompt", "max-new-tokens", "moved",
                "threads", "tokenizer"));
        Path dir = Path.of(args.required("model"));
        int images = args.positiveInt("images", "50");
        int maxNew = args.positiveInt("max-new-tokens", "24");
        int threads = args.positiveInt("threads", String.valueOf(Runtime.getRuntime().availableProcessors()));
        long seed;
        double moved;
        try {
            seed = Long.parseLong(args.option("seed", String.valueOf(DEFAULT_SEED)));
            moved = Double.parseDouble(args.option("moved", "0"));
        } catch (NumberFormatException e) {
            throw new ConfigException("--seed takes an integer and --moved a number in [0, 1]: " + e.getMessage());
        }
        if (!(moved >= 0 && moved <= 1)) {
            throw new ConfigException("--moved must be in [0, 1] (a fraction of the motion's quarter side), got " + moved);
        }
        String prompt = args.option("prompt", "");
        long started = System.nanoTime();
        Result result;
        try (RankContext rank = RankContext.single(threads)) {
            rank.bindThread();
            try (RankAssembly loaded = RankAssembly.fromHf(dir, ai.omnispark.models.api.ModelOptions.defaults(),
                    rank.manager(), DataType.FLOAT32)) {
                int vocab = loaded.model().vocabSize();
                ImagePrompt layout = ImagePrompt.of(dir);
                int[] text = GenerateCommand.textIds(dir, args.option("tokenizer", ""), vocab, prompt);
                Tokenizer tokenizer = ModelTokenizer.open(dir, args.option("tokenizer", ""), vocab);
                try {
                    int eos = GenerateCommand.eosId(loaded.model(), tokenizer);
                    Captioner captioner = png -> {
                        Sample row = layout.sample(png, text, "a rendered scene");
                        GenerateCommand.Greedy g = GenerateCommand.greedy(loaded.model(), loaded.params(),
                                rank.manager(), row, maxNew, eos, true);
                        return prompt + tokenizer.decode(g.ids());
                    };
                    result = measure(captioner, images, seed, moved);
                } finally {
                    ModelTokenizer.close(tokenizer);
                }
            }
        }
        ObjectMapper json = new ObjectMapper();
        ObjectNode o = json.createObjectNode();
        o.put("bench", "caption");
        o.put("model", dir.toString());
        o.put("images", result.images());
        o.put("seed", seed);
        o.put("moved", moved);
        o.put("prompt", prompt);
        o.put("colour_accuracy", result.colourAccuracy());
        o.put("shape_accuracy", result.shapeAccuracy());
        o.put("size_accuracy", result.sizeAccuracy());
        ArrayNode examples = o.putArray("examples");
        for (String[] e : result.examples()) {
            examples.addObject().put("expected", e[0]).put("caption", e[1]);
        }
        o.put("seconds", Math.round((System.nanoTime() - started) / 1e7) / 100.0);
        out.println(json.writeValueAsString(o));
        return 0;
    }

    /** Draws {@code images} scenes from {@code seed}, captions their renderings and scores the captions. */
    static Result measure(Captioner captioner, int images, long seed, double moved) {
        SplittableRandom random = new SplittableRandom(seed);
        int colour = 0;
        int shape = 0;
        int size = 0;
        List<String[]> examples = new java.util.ArrayList<>();
        for (int i = 0; i < images; i++) {
            SyntheticText.Scene scene = SyntheticText.scene(random);
            double t = moved > 0 ? random.nextDouble() * moved : 0;
            String caption = captioner.caption(png(scene, t));
            colour += CaptionScore.colour(scene, caption) ? 1 : 0;
            shape += CaptionScore.shape(scene, caption) ? 1 : 0;
            size += CaptionScore.size(scene, caption) ? 1 : 0;
            if (examples.size() < EXAMPLES) {
                examples.add(new String[] {scene.caption(), caption});
            }
        }
        return new Result(images, (double) colour / images, (double) shape / images, (double) size / images,
                examples);
    }

    static byte[] png(SyntheticText.Scene scene, double t) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try {
            ImageIO.write(SyntheticSample.frame(scene, t), "png", bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }
}
