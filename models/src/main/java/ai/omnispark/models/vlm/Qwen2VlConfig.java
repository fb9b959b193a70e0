package ai.omnispark.models.vlm;

import ai.omnispark.models.decoder.DecoderConfigKeys;
import ai.omnispark.models.decoder.DecoderShape;
import java.util.List;

/**
 * Shape of a Qwen2-VL model (HF {@code qwen2_vl}, {@code Qwen2VLForConditionalGeneration}): a
 * Qwen2 decoder (q/k/v biases, o_proj without) whose rotary angles come from 3-D (t, h, w)
 * positions split over the rotary channels by {@code mropeSection} (M-RoPE), a vision tower
 * ({@link VisionConfig}), and the special tokens that place media in the text.
 *
 * @param mropeSection rotary frequencies taken from the t, h and w positions, in that order; they
 *     sum to head_dim / 2 ({@code rope_scaling.mrope_section})
 */
public record Qwen2VlConfig(
        int vocabSize,
        int hiddenSize,
        int intermediateSize,
        int numLayers,
        int numHeads,
        int numKvHeads,
        double rmsNormEps,
        double ropeTheta,
        boolean tieWordEmbeddings,
        int maxPositionEmbeddings,
        double initializerRange,
        int bosTokenId,
        int eosTokenId,
        double attentionDropout,
        List<Integer> mropeSection,
        VlmTokens tokens,
        VisionConfig vision) implements DecoderShape {

    public static final String MODEL_TYPE = "qwen2_vl";
    public static final String ARCHITECTURE = "Qwen2VLForConditionalGeneration";

    public Qwen2VlConfig {
        if (numHeads <= 0 || hiddenSize % numHeads != 0) {
            throw new IllegalArgumentException("hidden_size (" + hiddenSize + ") must be a positive multiple of "
                    + "num_attention_heads (" + numHeads + "): Qwen2-VL's head_dim is their quotient");
        }
        DecoderConfigKeys.checkShape(vocabSize, hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads,
                hiddenSize / numHeads, rmsNormEps, ropeTheta, attentionDropout);
        mropeSection = List.copyOf(mropeSection);
        if (mropeSection.size() != 3) {
            throw new IllegalArgumentException("rope_scaling.mrope_section must hold 3 numbers (t, h, w), got "
                    + mropeSection);
        }
        int sum = 0;
        for (int s : mropeSection) {
            if (s <= 0) {
                throw new IllegalArgumentException("rope_scaling.mrope_section must be positive, got " + mropeSection);
            }
            sum += s;
        }
        if (sum * 2 != hiddenSize / numHeads) {
            throw new IllegalArgumentException("rope_scaling.mrope_section " + mropeSection + " sums to " + sum
                    + "; it must sum to head_dim / 2 = " + hiddenSize / numHeads / 2);
        }
        if (vision.hiddenSize() != hiddenSize) {
            throw new IllegalArgumentException("vision_config.hidden_size (" + vision.hiddenSize()
                    + ") must equal the language model's hidden_size (" + hiddenSize + "): the merger writes tokens of that width");
        }
        tokenId("image_token_id", tokens.imageTokenId(), vocabSize);
        tokenId("video_token_id", tokens.videoTokenId(), vocabSize);
        tokenId("vision_start_token_id", tokens.visionStartTokenId(), vocabSize);
        tokenId("vision_end_token_id", tokens.visionEndTokenId(), vocabSize);
    }

    private static void tokenId(String key, int id, int vocab) {
        if (id < 0 || id >= vocab) {
            throw new IllegalArgumentException(key + " " + id + " is outside the vocabulary [0, " + vocab + ")");
        }
    }

    @Override
    public String family() {
        return MODEL_TYPE;
    }

    @Override
    public int headDim() {
        return hiddenSize / numHeads;
    }

    /** Qwen2's attention has q/k/v biases; the config has no key for it. */
    @Override
    public boolean attentionBias() {
        return true;
    }

    @Override
    public boolean qkvBias() {
        return true;
    }

    @Override
    public boolean outputBias() {
        return false;
    }

    @Override
    public boolean qkNorm() {
        return false;
    }

    /** The M-RoPE sections as an array, for the rotary tables. */
    public int[] mropeSections() {
        return mropeSection.stream().mapToInt(Integer::intValue).toArray();
    }

    public VisionGeometry geometry() {
        return vision.geometry();
    }

    public long parameterCount() {
        long perLayer = attentionParameterCount() + 3L * hiddenSize * intermediateSize;
        return embedAndHeadParameterCount() + numLayers * perLayer + vision.parameterCount();
    }
}
