package ai.omnispark.data.media;

/**
 * The target size of an image: each side a multiple of {@code factor}, the area within
 * [minPixels, maxPixels], the aspect ratio kept as closely as that allows (Qwen2-VL's rule).
 */
public final class SmartResize {
    private SmartResize() {}

    /** {@code {height, width}} for a source of {@code height × width}. */
    public static int[] of(int height, int width, int factor, long minPixels, long maxPixels) {
        if (height < 1 || width < 1) {
            throw new IllegalArgumentException("image of " + height + "x" + width + " has no pixels");
        }
        int h = Math.max(factor, (int) Math.round((double) height / factor) * factor);
        int w = Math.max(factor, (int) Math.round((double) width / factor) * factor);
        if ((long) h * w > maxPixels) {
            double beta = Math.sqrt((double) height * width / maxPixels);
            h = Math.max(factor, (int) Math.floor(height / beta / factor) * factor);
            w = Math.max(factor, (int) Math.floor(width / beta / factor) * factor);
        } else if ((long) h * w < minPixels) {
            double beta = Math.sqrt((double) minPixels / ((double) height * width));
            h = (int) Math.ceil(height * beta / factor) * factor;
            w = (int) Math.ceil(width * beta / factor) * factor;
        }
        return new int[] {h, w};
    }
}
