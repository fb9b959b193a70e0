package ai.omnispark.trainer.config;

import ai.omnispark.trainer.config.Key.Type;
import java.util.List;

/**
 * The {@code data} section: what to train on and how raw records are prepared. Names the
 * data-pipeline's formats and types as text; the prepare step parses them (and names the key).
 */
public record DataSection(
        @Fingerprint("data.train_path") String trainPath,
        @Fingerprint("data.data_type") String dataType,
        @Fingerprint("data.max_seq_len") int maxSeqLen,
        @Fingerprint("data.eos_token") String eosToken,
        @Fingerprint("data.pad_token") String padToken,
        @Fingerprint("data.text_keys") String textKeys,
        String outputPath,
        String format,
        double maxRejectRatio,
        String overflow,
        int numShards,
        int rowsPerBatch,
        String messagesKey,
        String imageKey,
        String videoKey,
        long minPixels,
        long maxPixels,
        double fps,
        int maxFrames,
        String visionMarkers,
        int imageTokenId,
        int videoTokenId,
        int visionStartTokenId,
        int visionEndTokenId,
        int latentChannels,
        int textEmbedDim,
        int textEmbedLen,
        boolean imageToVideo) {

    public static final List<Key> KEYS = List.of(
            new Key("data.train_path", Type.STRING, "", "training data: a JSON-lines file or folder of raw samples"),
            new Key("data.data_type", Type.STRING, "plaintext", "plaintext | conversation | image_text | video_text | video_latent"),
            new Key("data.max_seq_len", Type.INT, 512L, "tokens per packed row"),
            new Key("data.eos_token", Type.STRING, "<|endoftext|>", "with model.tokenizer_path: the token appended after each document"),
            new Key("data.pad_token", Type.STRING, "", "with model.tokenizer_path: the token filling row tails; empty = data.eos_token"),
            new Key("data.text_keys", Type.STRING, "text", "column (JSON key) holding the text"),
            new Key("data.output_path", Type.STRING, "", "where raw data.train_path is prepared into Arrow shards; empty = OUTPUT_DIR/data"),
            new Key("data.format", Type.STRING, "json", "raw input format for the prepare step: json (lines) | parquet"),
            new Key("data.max_reject_ratio", Type.DOUBLE, 0.1, "prepare fails (nothing published) when a larger share of records is rejected"),
            new Key("data.overflow", Type.STRING, "truncate", "over-long text documents: truncate | reject"),
            new Key("data.num_shards", Type.INT, 0L, "Arrow shards the prepare step writes; 0 = one per input partition"),
            new Key("data.rows_per_batch", Type.INT, 256L, "packed rows per Arrow record batch"),
            new Key("data.messages_key", Type.STRING, "messages", "column holding the messages of a conversation"),
            new Key("data.image_key", Type.STRING, "image", "column holding an image (path, bytes or list)"),
            new Key("data.video_key", Type.STRING, "video", "column holding a video (path or bytes)"),
            new Key("data.min_pixels", Type.INT, 3136L, "smallest area an image or frame is resized to"),
            new Key("data.max_pixels", Type.INT, 1003520L, "largest area an image or frame is resized to"),
            new Key("data.fps", Type.DOUBLE, 2.0, "video frames sampled per second"),
            new Key("data.max_frames", Type.INT, 16L, "most frames taken from one video"),
            new Key("data.vision_markers", Type.STRING, "auto", "vision start/end ids around each media's placeholders: "
                    + "true | false | auto (when the model's config.json names vision_start_token_id)"),
            new Key("data.image_token_id", Type.INT, -1L, "image placeholder id; -1 = the model's config.json, else vocab size"),
            new Key("data.video_token_id", Type.INT, -1L, "video placeholder id; -1 = the model's config.json, else vocab size + 1"),
            new Key("data.vision_start_token_id", Type.INT, -1L, "id before each media run; -1 = the model's config.json, else vocab size + 2"),
            new Key("data.vision_end_token_id", Type.INT, -1L, "id after each media run; -1 = the model's config.json, else vocab size + 3"),
            new Key("data.latent_channels", Type.INT, 16L, "video_latent: channels of the latents (the pixel encoder projects to them)"),
            new Key("data.text_embed_dim", Type.INT, 4096L, "video_latent: columns of a text embedding"),
            new Key("data.text_embed_len", Type.INT, 512L, "video_latent: rows of a text embedding; shorter ones are padded with zeros"),
            new Key("data.image_to_video", Type.BOOL, false, "video_latent from videos: also write cond_latents (first frame encoded, zeros after)"));

    static DataSection parse(Settings s) {
        return new DataSection(s.string("data.train_path"), s.string("data.data_type"), s.intValue("data.max_seq_len"),
                s.string("data.eos_token"), s.string("data.pad_token"), s.string("data.text_keys"),
                s.string("data.output_path"), s.string("data.format"), s.number("data.max_reject_ratio"),
                s.string("data.overflow"), s.intValue("data.num_shards"), s.intValue("data.rows_per_batch"),
                s.string("data.messages_key"), s.string("data.image_key"), s.string("data.video_key"),
                s.integer("data.min_pixels"), s.integer("data.max_pixels"), s.number("data.fps"),
                s.intValue("data.max_frames"), s.string("data.vision_markers"), s.intValue("data.image_token_id"),
                s.intValue("data.video_token_id"), s.intValue("data.vision_start_token_id"),
                s.intValue("data.vision_end_token_id"), s.intValue("data.latent_channels"),
                s.intValue("data.text_embed_dim"), s.intValue("data.text_embed_len"), s.flag("data.image_to_video"));
    }

    /** {@code data.text_keys}: the columns tried in order. */
    public List<String> textKeyList() {
        return List.of(textKeys.split(","));
    }
}
