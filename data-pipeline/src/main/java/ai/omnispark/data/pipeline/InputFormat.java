package ai.omnispark.data.pipeline;

import java.util.Locale;

/** How the input files are read. */
public enum InputFormat {
    /** JSON lines, parsed on the executors so a malformed line becomes a reject, not a failed job. */
    JSON,
    PARQUET;

    public static InputFormat parse(String text) {
        String t = text.trim().toLowerCase(Locale.ROOT);
        if (t.equals("json") || t.equals("jsonl")) {
            return JSON;
        }
        if (t.equals("parquet")) {
            return PARQUET;
        }
        throw new IllegalArgumentException("data.format must be json or parquet, got '" + text + "'");
    }
}
