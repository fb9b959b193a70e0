package ai.omnispark.data.pipeline;

import ai.omnispark.data.media.ImageDecoder;
import ai.omnispark.data.media.Media;
import ai.omnispark.data.media.MediaOptions;
import ai.omnispark.data.media.MediaTooLargeException;
import ai.omnispark.data.media.VideoDecoder;
import ai.omnispark.data.pack.Document;
import ai.omnispark.data.tokenizer.Tokenizer;
import ai.omnispark.models.vlm.VlmTokens;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Turns one input record into a {@link Sample} according to {@code data.data_type}, or says why
 * it cannot. Text documents end with EOS; a media contributes one placeholder id per merged patch,
 * between a vision-start and a vision-end id when {@code data.vision_markers} is on, so the token
 * count the packer sees is the sequence length the model will see.
 */
final class SampleBuilder {
    static final String IMAGE_PLACEHOLDER = "<image>";
    static final String VIDEO_PLACEHOLDER = "<video>";

    private final PrepareConfig config;
    private final Tokenizer tokenizer;
    private final MediaLoader loader;
    private final ImageDecoder images;
    private final VideoDecoder videos;
    private final int imageTokenId;
    private final int videoTokenId;
    /** The ids around each placeholder run; null without {@code vision_markers}. */
    private final int[] markers;

    SampleBuilder(PrepareConfig config, Tokenizer tokenizer, MediaLoader loader) {
        this.config = config;
        this.tokenizer = tokenizer;
        this.loader = loader;
        this.images = new ImageDecoder(config.media());
        this.videos = new VideoDecoder(config.media());
        this.imageTokenId = imageTokenId(config, tokenizer);
        this.videoTokenId = videoTokenId(config, tokenizer);
        this.markers = config.visionMarkers()
                ? new int[] {visionStartTokenId(config, tokenizer), visionEndTokenId(config, tokenizer)} : null;
        if (markers != null) {
            // The ids as resolved (given or vocabulary-derived) must differ; VlmTokens names a clash.
            new VlmTokens(imageTokenId, videoTokenId, markers[0], markers[1]);
        }
    }

    static int imageTokenId(PrepareConfig config, Tokenizer tokenizer) {
        return config.imageTokenId() >= 0 ? config.imageTokenId() : tokenizer.vocabSize();
    }

    static int videoTokenId(PrepareConfig config, Tokenizer tokenizer) {
        return config.videoTokenId() >= 0 ? config.videoTokenId() : tokenizer.vocabSize() + 1;
    }

    static int visionStartTokenId(PrepareConfig config, Tokenizer tokenizer) {
        return config.visionStartTokenId() >= 0 ? config.visionStartTokenId() : tokenizer.vocabSize() + 2;
    }

    static int visionEndTokenId(PrepareConfig config, Tokenizer tokenizer) {
        return config.visionEndTokenId() >= 0 ? config.visionEndTokenId() : tokenizer.vocabSize() + 3;
    }

    Sample build(SourceRecord record, String sourceFile) throws SampleRejected {
        return switch (config.dataType()) {
            case PLAINTEXT -> new Sample(textDocument(requiredText(config, record), List.of()), List.of());
            case CONVERSATION -> new Sample(ChatTemplate.apply(tokenizer, requiredMessages(record), List.of(), null),
                    List.of());
            case IMAGE_TEXT -> withMedia(record, sourceFile, config.imageKey(), false);
            case VIDEO_TEXT -> withMedia(record, sourceFile, config.videoKey(), true);
            case VIDEO_LATENT -> throw new IllegalStateException("video_latent records are built by LatentSampleBuilder");
        };
    }

    private Sample withMedia(SourceRecord record, String sourceFile, String key, boolean video) throws SampleRejected {
        List<MediaRef> refs = record.media(key);
        if (refs == null || refs.isEmpty()) {
            throw new SampleRejected(RejectReason.MISSING_COLUMN, "no '" + key + "' in the record");
        }
        // Text problems are cheaper to find than decoding problems, so look at the text first.
        List<Message> messages = record.messages(config.messagesKey());
        String caption = messages == null ? requiredText(config, record) : null;
        List<Media> media = new ArrayList<>(refs.size());
        List<int[]> runs = new ArrayList<>(refs.size());
        for (MediaRef ref : refs) {
            byte[] bytes = loader.load(ref, sourceFile);
            Media m;
            try {
                m = video ? videos.decode(bytes) : images.decode(bytes);
            } catch (MediaTooLargeException e) {
                throw new SampleRejected(RejectReason.MEDIA_TOO_LARGE,
                        (ref.path() != null ? ref.path() + ": " : "") + e.getMessage());
            } catch (IOException e) {
                throw new SampleRejected(video ? RejectReason.UNDECODABLE_VIDEO : RejectReason.UNDECODABLE_IMAGE,
                        (ref.path() != null ? ref.path() + ": " : "") + e.getMessage());
            }
            media.add(m);
            int placeholders = tokens(config.media(), m);
            int[] run = new int[placeholders + (markers == null ? 0 : 2)];
            Arrays.fill(run, video ? videoTokenId : imageTokenId);
            if (markers != null) {
                run[0] = markers[0];
                run[run.length - 1] = markers[1];
            }
            runs.add(run);
        }
        Document document = messages != null
                ? ChatTemplate.apply(tokenizer, messages, runs, video ? VIDEO_PLACEHOLDER : IMAGE_PLACEHOLDER)
                : textDocument(caption, runs);
        return new Sample(document, media);
    }

    static int tokens(MediaOptions options, Media m) {
        return options.tokens(m.frames(), m.height(), m.width());
    }

    private Document textDocument(String text, List<int[]> mediaRuns) {
        TokenBuffer out = new TokenBuffer();
        for (int[] run : mediaRuns) {
            out.add(run, false);
        }
        out.add(tokenizer.encode(text), true);
        out.add(tokenizer.eosId(), true);
        return out.toDocument();
    }

    /** The first of {@code data.text_keys} in the record; absent or blank is a reject. */
    static String requiredText(PrepareConfig config, SourceRecord record) throws SampleRejected {
        for (String key : config.textKeys()) {
            String text = record.text(key);
            if (text != null) {
                if (text.isBlank()) {
                    throw new SampleRejected(RejectReason.EMPTY_TEXT, "'" + key + "' is empty");
                }
                return text;
            }
        }
        throw new SampleRejected(RejectReason.MISSING_COLUMN, "none of " + config.textKeys() + " (data.text_keys) is in the record");
    }

    private List<Message> requiredMessages(SourceRecord record) throws SampleRejected {
        List<Message> messages = record.messages(config.messagesKey());
        if (messages == null) {
            throw new SampleRejected(RejectReason.MISSING_COLUMN, "no '" + config.messagesKey() + "' in the record");
        }
        return messages;
    }
}
