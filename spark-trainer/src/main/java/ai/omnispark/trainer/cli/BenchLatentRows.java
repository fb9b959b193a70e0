package ai.omnispark.trainer.cli;

import ai.omnispark.models.api.Model;
import ai.omnispark.models.api.Sample;
import ai.omnispark.models.wan.WanConfig;
import ai.omnispark.models.wan.WanModel;
import ai.omnispark.trainer.config.ConfigException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * Synthetic latent rows for benchmarking a text-to-video Wan model at a given latent size, without a
 * prepared dataset: latents uniform in [-1, 1) of shape (C, F, H, W) and a text embedding of
 * {@value #TEXT_TOKENS} tokens, from a fixed seed (every rank makes the same rows).
 */
final class BenchLatentRows {
    static final int TEXT_TOKENS = 32;

    private BenchLatentRows() {}

    /** The value of a bench's --latent option: C,F,H,W, four positive integers. */
    static int[] shape(String value) {
        String[] parts = value.split(",");
        if (parts.length != 4) {
            throw new ConfigException("--latent takes C,F,H,W (a latent's channels, frames, height, width), got " + value);
        }
        int[] shape = new int[4];
        for (int i = 0; i < 4; i++) {
            try {
                shape[i] = Integer.parseInt(parts[i].trim());
            } catch (NumberFormatException e) {
                shape[i] = 0;
            }
            if (shape[i] <= 0) {
                throw new ConfigException("--latent takes four positive integers C,F,H,W, got " + value);
            }
        }
        return shape;
    }

    /**
     * @param count rows to make (at least the global batch)
     * @param tokens receives a row's patch tokens F' H' W'
     */
    static Function<Model, List<Sample>> of(int[] shape, int count, AtomicInteger tokens) {
        return model -> {
            if (!(model instanceof WanModel wan)) {
                throw new ConfigException("--latent is for latent-row families (wan); this model is " + model.family());
            }
            WanConfig c = wan.config();
            if (c.isImageToVideo() || shape[0] != c.inChannels() || shape[0] != c.outChannels()) {
                throw new ConfigException("--latent " + Arrays.toString(shape) + ": the bench makes text-to-video rows, "
                        + "whose channels must equal in_channels (" + c.inChannels() + ") and out_channels ("
                        + c.outChannels() + ") of a model without image_dim");
            }
            int[] p = c.patchSize();
            int n = 1;
            for (int a = 0; a < 3; a++) {
                if (shape[1 + a] % p[a] != 0) {
                    throw new ConfigException("--latent " + Arrays.toString(shape) + " is not a multiple of patch_size "
                            + Arrays.toString(p));
                }
                n *= shape[1 + a] / p[a];
            }
            tokens.set(n);
            SplittableRandom random = new SplittableRandom(7);
            List<Sample> rows = new ArrayList<>();
            for (int r = 0; r < count; r++) {
                float[] latents = new float[shape[0] * shape[1] * shape[2] * shape[3]];
                for (int i = 0; i < latents.length; i++) {
                    latents[i] = (float) (2 * random.nextDouble() - 1);
                }
                float[] text = new float[TEXT_TOKENS * c.textDim()];
                for (int i = 0; i < text.length; i++) {
                    text[i] = (float) (2 * random.nextDouble() - 1);
                }
                rows.add(Sample.latents(latents, shape.clone(), text, new int[] {TEXT_TOKENS, c.textDim()}, null, null,
                        null));
            }
            return rows;
        };
    }
}
