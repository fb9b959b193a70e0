package ai.omnispark.data.pipeline;

import ai.omnispark.data.media.MediaOptions;
import ai.omnispark.data.pack.DocumentPacker;
import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Everything the prepare step needs. Everything but {@code outputPath} goes into the dataset's
 * fingerprint, so changing any of it makes a rerun redo the work.
 *
 * @param textKeys keys tried in order for the text (or caption); the first present one is used
 * @param numShards shards to write; 0 keeps the input's partitioning (one shard per partition)
 * @param packWindow documents packed together; bounds executor memory, larger packs tighter
 * @param imageTokenId placeholder id for image tokens; -1 = the tokenizer's vocabulary size
 * @param videoTokenId placeholder id for video tokens; -1 = the tokenizer's vocabulary size + 1
 * @param tokenizerPath a Hugging Face {@code tokenizer.json} (or its folder); null or empty = byte tokenizer
 * @param visionMarkers write {@code visionStartTokenId} before and {@code visionEndTokenId} after each
 *     placeholder run (what Qwen2-VL's M-RoPE looks for); media data types only
 * @param visionStartTokenId with {@code visionMarkers}: the id before a run; -1 = the tokenizer's vocabulary size + 2
 * @param visionEndTokenId with {@code visionMarkers}: the id after a run; -1 = the tokenizer's vocabulary size + 3
 * @param latentChannels video_latent: channels C of the latents (precomputed ones must have them; the
 *     pixel encoder projects to them)
 * @param textEmbedDim video_latent: columns of a text embedding
 * @param textEmbedLen video_latent: rows of a text embedding; shorter ones are padded with zero rows
 * @param imageToVideo video_latent from videos: also write cond_latents (the first frame's encoding,
 *     zeros after)
 */
public record PrepareConfig(String inputPath, InputFormat format, DataType dataType, List<String> textKeys,
        String messagesKey, String imageKey, String videoKey, int maxSeqLen, int rowsPerBatch,
        DocumentPacker.Overflow overflow, double maxRejectRatio, String outputPath, int numShards, int packWindow,
        MediaOptions media, int imageTokenId, int videoTokenId, String tokenizerPath, boolean visionMarkers,
        int visionStartTokenId, int visionEndTokenId, int latentChannels, int textEmbedDim, int textEmbedLen,
        boolean imageToVideo) implements Serializable {

    public PrepareConfig {
        Objects.requireNonNull(format, "data.format");
        Objects.requireNonNull(dataType, "data.data_type");
        Objects.requireNonNull(overflow, "data.overflow");
        Objects.requireNonNull(media, "media options");
        textKeys = List.copyOf(textKeys);
        if (outputPath == null || outputPath.isBlank()) {
            throw new IllegalArgumentException("data.output_path is required");
        }
        if (maxSeqLen < 2) {
            throw new IllegalArgumentException("data.max_seq_len must be >= 2, got " + maxSeqLen);
        }
        if (rowsPerBatch < 1) {
            throw new IllegalArgumentException("data.rows_per_batch must be >= 1, got " + rowsPerBatch);
        }
        if (!(maxRejectRatio >= 0 && maxRejectRatio <= 1)) {
            throw new IllegalArgumentException("data.max_reject_ratio must be in [0, 1], got " + maxRejectRatio);
        }
        if (numShards < 0 || packWindow < 1) {
            throw new IllegalArgumentException("data.num_shards must be >= 0 and data.pack_window >= 1");
        }
        if (textKeys.isEmpty() && (dataType == DataType.PLAINTEXT)) {
            throw new IllegalArgumentException("data.text_keys is empty");
        }
        checkSpecialIds(imageTokenId, videoTokenId, visionStartTokenId, visionEndTokenId);
        if (latentChannels < 3) {
            throw new IllegalArgumentException("data.latent_channels must be >= 3, got " + latentChannels);
        }
        if (textEmbedDim < 1 || textEmbedLen < 1) {
            throw new IllegalArgumentException("data.text_embed_dim and data.text_embed_len must be >= 1, got "
                    + textEmbedDim + " and " + textEmbedLen);
        }
    }

    /** Each id is -1 (derived from the vocabulary) or >= 0, and no two given ids are equal. */
    private static void checkSpecialIds(int... ids) {
        String[] names = {"data.image_token_id", "data.video_token_id", "data.vision_start_token_id",
            "data.vision_end_token_id"};
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < -1) {
                throw new IllegalArgumentException(names[i] + " must be >= 0, or -1 for the default, got " + ids[i]);
            }
            for (int j = 0; j < i; j++) {
                if (ids[i] >= 0 && ids[i] == ids[j]) {
                    throw new IllegalArgumentException(names[j] + " and " + names[i] + " are both " + ids[i]
                            + "; each special token needs its own id");
                }
            }
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The settings that shape the output, as written into the manifest and hashed into the fingerprint. */
    public Map<String, Object> describe() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("input_path", inputPath);
        m.put("format", format.name().toLowerCase(java.util.Locale.ROOT));
        m.put("data_type", dataType.key());
        m.put("text_keys", textKeys);
        m.put("messages_key", messagesKey);
        m.put("image_key", imageKey);
        m.put("video_key", videoKey);
        m.put("max_seq_len", maxSeqLen);
        m.put("rows_per_batch", rowsPerBatch);
        m.put("overflow", overflow.name().toLowerCase(java.util.Locale.ROOT));
        m.put("max_reject_ratio", maxRejectRatio);
        m.put("num_shards", numShards);
        m.put("pack_window", packWindow);
        m.put("patch_size", media.patchSize());
        m.put("merge_size", media.mergeSize());
        m.put("min_pixels", media.minPixels());
        m.put("max_pixels", media.maxPixels());
        m.put("fps", media.fps());
        m.put("max_frames", media.maxFrames());
        m.put("temporal_patch_size", media.temporalPatchSize());
        m.put("max_media_bytes", media.maxMediaBytes());
        m.put("max_decoded_pixels", media.maxDecodedPixels());
        m.put("max_video_frames", media.maxVideoFrames());
        m.put("image_token_id", imageTokenId);
        m.put("video_token_id", videoTokenId);
        m.put("tokenizer_path", tokenizerPath == null ? "" : tokenizerPath);
        // Only when on, so datasets prepared without markers keep their fingerprints.
        if (visionMarkers) {
            m.put("vision_markers", true);
            m.put("vision_start_token_id", visionStartTokenId);
            m.put("vision_end_token_id", visionEndTokenId);
        }
        // Only for latent data, so other datasets keep their fingerprints.
        if (dataType == DataType.VIDEO_LATENT) {
            m.put("latent_channels", latentChannels);
            m.put("text_embed_dim", textEmbedDim);
            m.put("text_embed_len", textEmbedLen);
            m.put("image_to_video", imageToVideo);
            m.put("pixel_encoder_seed", ai.omnispark.data.latent.PixelEncoder.DEFAULT_SEED);
            m.put("text_embedder_seed", ai.omnispark.data.latent.ByteTextEmbedder.DEFAULT_SEED);
        }
        return m;
    }

    public Builder toBuilder() {
        Builder b = new Builder();
        b.inputPath = inputPath;
        b.format = format;
        b.dataType = dataType;
        b.textKeys = textKeys;
        b.messagesKey = messagesKey;
        b.imageKey = imageKey;
        b.videoKey = videoKey;
        b.maxSeqLen = maxSeqLen;
        b.rowsPerBatch = rowsPerBatch;
        b.overflow = overflow;
        b.maxRejectRatio = maxRejectRatio;
        b.outputPath = outputPath;
        b.numShards = numShards;
        b.packWindow = packWindow;
        b.media = media;
        b.imageTokenId = imageTokenId;
        b.videoTokenId = videoTokenId;
        b.tokenizerPath = tokenizerPath;
        b.visionMarkers = visionMarkers;
        b.visionStartTokenId = visionStartTokenId;
        b.visionEndTokenId = visionEndTokenId;
        b.latentChannels = latentChannels;
        b.textEmbedDim = textEmbedDim;
        b.textEmbedLen = textEmbedLen;
        b.imageToVideo = imageToVideo;
        return b;
    }

    /** Defaults match docs/config.md. */
    public static final class Builder {
        private String inputPath;
        private InputFormat format = InputFormat.JSON;
        private DataType dataType = DataType.PLAINTEXT;
        private List<String> textKeys = List.of("text");
        private String messagesKey = "messages";
        private String imageKey = "image";
        private String videoKey = "video";
        private int maxSeqLen = 512;
        private int rowsPerBatch = 256;
        private DocumentPacker.Overflow overflow = DocumentPacker.Overflow.TRUNCATE;
        private double maxRejectRatio = 0.1;
        private String outputPath;
        private int numShards;
        private int packWindow = 10_000;
        private MediaOptions media = MediaOptions.DEFAULTS;
        private int imageTokenId = -1;
        private int videoTokenId = -1;
        private String tokenizerPath;
        private boolean visionMarkers;
        private int visionStartTokenId = -1;
        private int visionEndTokenId = -1;
        private int latentChannels = 16;
        private int textEmbedDim = 4096;
        private int textEmbedLen = 512;
        private boolean imageToVideo;

        public Builder inputPath(String v) { inputPath = v; return this; }
        public Builder format(InputFormat v) { format = v; return this; }
        public Builder dataType(DataType v) { dataType = v; return this; }
        public Builder textKeys(List<String> v) { textKeys = v; return this; }
        public Builder messagesKey(String v) { messagesKey = v; return this; }
        public Builder imageKey(String v) { imageKey = v; return this; }
        public Builder videoKey(String v) { videoKey = v; return this; }
        public Builder maxSeqLen(int v) { maxSeqLen = v; return this; }
        public Builder rowsPerBatch(int v) { rowsPerBatch = v; return this; }
        public Builder overflow(DocumentPacker.Overflow v) { overflow = v; return this; }
        public Builder maxRejectRatio(double v) { maxRejectRatio = v; return this; }
        public Builder outputPath(String v) { outputPath = v; return this; }
        public Builder numShards(int v) { numShards = v; return this; }
        public Builder packWindow(int v) { packWindow = v; return this; }
        public Builder media(MediaOptions v) { media = v; return this; }
        public Builder imageTokenId(int v) { imageTokenId = v; return this; }
        public Builder videoTokenId(int v) { videoTokenId = v; return this; }
        public Builder tokenizerPath(String v) { tokenizerPath = v; return this; }
        public Builder visionMarkers(boolean v) { visionMarkers = v; return this; }
        public Builder visionStartTokenId(int v) { visionStartTokenId = v; return this; }
        public Builder visionEndTokenId(int v) { visionEndTokenId = v; return this; }
        public Builder latentChannels(int v) { latentChannels = v; return this; }
        public Builder textEmbedDim(int v) { textEmbedDim = v; return this; }
        public Builder textEmbedLen(int v) { textEmbedLen = v; return this; }
        public Builder imageToVideo(boolean v) { imageToVideo = v; return this; }

        public PrepareConfig build() {
            return new PrepareConfig(inputPath, format, dataType, textKeys, messagesKey, imageKey, videoKey, maxSeqLen,
                    rowsPerBatch, overflow, maxRejectRatio, outputPath, numShards, packWindow, media, imageTokenId,
                    videoTokenId, tokenizerPath, visionMarkers, visionStartTokenId, visionEndTokenId, latentChannels,
                    textEmbedDim, textEmbedLen, imageToVideo);
        }
    }
}
