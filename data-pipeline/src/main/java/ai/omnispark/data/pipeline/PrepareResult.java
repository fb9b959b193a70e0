package ai.omnispark.data.pipeline;

import ai.omnispark.data.arrow.Manifest;

/**
 * What a prepare run produced.
 *
 * @param skipped true when the output already held a manifest with the same fingerprint
 */
public record PrepareResult(String manifestPath, Manifest manifest, boolean skipped) {
    public long rows() {
        return manifest.rows();
    }

    public long documents() {
        return manifest.documents();
    }

    public long tokens() {
        return manifest.tokens();
    }

    public long rejected() {
        return manifest.rejected();
    }

    /** {@link Manifest#summaryLine} plus {@code skipped}: what the {@code prepare} command prints. */
    public String summaryLine() {
        java.util.Map<String, Object> summary = manifest.summary(manifestPath);
        summary.put("skipped", skipped);
        try {
            return new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(summary);
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
