package ai.omnispark.data.latent;

import ai.omnispark.models.api.Sample;
import java.util.Arrays;

/**
 * The tensors of one video_latent record before they are checked: {@code latents} (C, F, H, W),
 * {@code textEmbeds} (L, text_dim), optional {@code condLatents} (same shape as the latents) and
 * optional {@code imageEmbeds} (N, image_dim; Wan's CLIP gives N = 257).
 */
public record LatentRecord(FloatTensor latents, FloatTensor textEmbeds, FloatTensor condLatents,
        FloatTensor imageEmbeds) {

    /**
     * The checked row: the latents must have {@code latentChannels} channels and non-empty F, H, W;
     * the text embedding {@code textEmbedDim} columns and at most {@code textEmbedLen} rows (fewer
     * are padded with zero rows to {@code textEmbedLen}, so every row of a dataset has the same text
     * shape); cond_latents the latents' shape; image_embeds rank 2 with rows. A violation is an
     * {@link IllegalArgumentException} naming the field, its shape and what was expected.
     */
    public Sample toSample(int latentChannels, int textEmbedDim, int textEmbedLen) {
        int[] ls = latents.shape();
        if (ls.length != 4 || ls[0] != latentChannels || ls[1] < 1 || ls[2] < 1 || ls[3] < 1) {
            throw new IllegalArgumentException("'latents' has shape " + Arrays.toString(ls) + ", expected (C, F, H, W) "
                    + "with C = data.latent_channels = " + latentChannels + " and F, H, W >= 1");
        }
        int[] ts = textEmbeds.shape();
        if (ts.length != 2 || ts[1] != textEmbedDim || ts[0] < 1 || ts[0] > textEmbedLen) {
            throw new IllegalArgumentException("'text_embeds' has shape " + Arrays.toString(ts) + ", expected (L, "
                    + textEmbedDim + ") with 1 <= L <= data.text_embed_len = " + textEmbedLen
                    + " (text_dim = data.text_embed_dim)");
        }
        float[] text = Arrays.copyOf(textEmbeds.values(), textEmbedLen * textEmbedDim);
        float[] cond = null;
        if (condLatents != null) {
            if (!Arrays.equals(condLatents.shape(), ls)) {
                throw new IllegalArgumentException("'cond_latents' has shape " + Arrays.toString(condLatents.shape())
                        + " but 'latents' has " + Arrays.toString(ls) + "; they must be equal");
            }
            cond = condLatents.values();
        }
        float[] image = null;
        int[] imageShape = null;
        if (imageEmbeds != null) {
            int[] is = imageEmbeds.shape();
            if (is.length != 2 || is[0] < 1 || is[1] < 1) {
                throw new IllegalArgumentException("'image_embeds' has shape " + Arrays.toString(is)
                        + ", expected (N, image_dim) with N, image_dim >= 1 (Wan's CLIP gives N = 257)");
            }
            image = imageEmbeds.values();
            imageShape = is.clone();
        }
        return Sample.latents(latents.values(), ls.clone(), text, new int[] {textEmbedLen, textEmbedDim}, cond, image,
                imageShape);
    }
}
