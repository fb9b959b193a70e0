package ai.omnispark.data.pipeline;

/** An image or video as the record gives it: inline bytes, or a path (relative to the input file). */
public record MediaRef(String path, byte[] bytes) {
    public static MediaRef ofPath(String path) {
        return new MediaRef(path, null);
    }

    public static MediaRef ofBytes(byte[] bytes) {
        return new MediaRef(null, bytes);
    }
}
