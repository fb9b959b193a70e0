package ai.omnispark.data.pipeline;

import java.util.Map;

/** The share of rejected records passed {@code data.max_reject_ratio}; no dataset was published. */
public final class RejectedRecordsException extends RuntimeException {
    private final long rejected;
    private final long inputRecords;
    private final Map<String, Long> byReason;
    private final String rejectedPath;

    public RejectedRecordsException(long rejected, long inputRecords, double maxRatio, Map<String, Long> byReason,
            String rejectedPath) {
        super(String.format("%d of %d input records were rejected (%.2f%%), more than data.max_reject_ratio=%s "
                + "allows; by reason: %s; the rejected records, with their reasons, are in %s",
                rejected, inputRecords, inputRecords == 0 ? 0.0 : 100.0 * rejected / inputRecords, maxRatio,
                byReason, rejectedPath));
        this.rejected = rejected;
        this.inputRecords = inputRecords;
        this.byReason = Map.copyOf(byReason);
        this.rejectedPath = rejectedPath;
    }

    public long rejected() {
        return rejected;
    }

    public long inputRecords() {
        return inputRecords;
    }

    public Map<String, Long> byReason() {
        return byReason;
    }

    public String rejectedPath() {
        return rejectedPath;
    }
}
