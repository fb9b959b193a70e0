package ai.omnispark.data.pipeline;

import java.util.List;

/** Read access to one input record, whether it came from a JSON line or a Spark row. */
public interface SourceRecord {
    /** The string at {@code key}; null when the key is absent or null. */
    String text(String key) throws SampleRejected;

    /** The messages at {@code key}; null when absent. */
    List<Message> messages(String key) throws SampleRejected;

    /** The media at {@code key} (one value or a list); null when absent. */
    List<MediaRef> media(String key) throws SampleRejected;

    /**
     * The tensor at {@code key} (video_latent records): a nested array of numbers, or a reference
     * to a safetensors file; null when absent.
     */
    TensorField tensor(String key) throws SampleRejected;

    /** The record as text, for the rejects file. */
    String raw();
}
