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
 * {@code bench caption --model HF_DIR [--images 50] [--seed S] [--sample-seed S] [--prompt T]
 * [--max-new-tokens N] [--threads T]}: how often a vision-language model trained on {@code sample}'s
 * image-text set names what fresh images show. It draws pictures exactly as {@link SyntheticSample}
 * draws its image records (scene, then a random placement), from {@code --seed} (default
 * {@link #DEFAULT_SEED}), which must differ from {@code --sample-seed}, the seed the training sample
 * was written with ({@code sample}'s default 42): the same seed would redraw the training images
 * themselves. Each is rendered as a PNG, captioned greedily with {@code generate}'s decoding, and
 * one JSON line gives the colour, shape and size accuracies ({@link CaptionScore}), both seeds and a
 * few examples.
 */
final class BenchCaption {
    static final long DEFAULT_SEED = 20261130L;
    /** What {@code sample --seed} defaults to. */
    static final long SAMPLE_SEED = 42L;
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
        Args args = Args.parse(argv, 0, List.of("model", "images", "seed", "sample-seed", "prompt",
                "max-new-tokens", "threads", "tokenizer"));
        Path dir = Path.of(args.required("model"));
        int images = args.positiveInt("images", "50");
        int maxNew = args.positiveInt("max-new-tokens", "24");
        int threads = args.positiveInt("threads", String.valueOf(Runtime.getRuntime().availableProcessors()));
        long seed = seed(args, "seed", DEFAULT_SEED);
        long sampleSeed = seed(args, "sample-seed", SAMPLE_SEED);
        if (seed == sampleSeed) {
            throw new ConfigException("--seed " + seed + " is the training sample's seed (--sample-seed): its pictures"
                    + " are the training images, not fresh ones; pick another --seed");
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
                    result = measure(captioner, images, seed);
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
        o.put("sample_seed", sampleSeed);
        o.put("fresh", "pictures drawn from seed " + seed + ", not the training sample's seed " + sampleSeed);
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

    private static long seed(Args args, String name, long fallback) {
        String text = args.option(name, String.valueOf(fallback));
        try {
            return Long.parseLong(text.trim());
        } catch (NumberFormatException e) {
            throw new ConfigException("--" + name + " takes an integer, got '" + text + "'");
        }
    }

    /** Draws {@code images} pictures from {@code seed} as the sample does, captions them and scores the captions. */
    static Result measure(Captioner captioner, int images, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        int colour = 0;
        int shape = 0;
        int size = 0;
        List<String[]> examples = new java.util.ArrayList<>();
        for (int i = 0; i < images; i++) {
            SyntheticSample.Picture picture = SyntheticSample.picture(random);
            SyntheticText.Scene scene = picture.scene();
            String caption = captioner.caption(png(picture));
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

    static byte[] png(SyntheticSample.Picture picture) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try {
            ImageIO.write(picture.render(), "png", bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }
}
