package ai.omnispark.data.pipeline;

/** A record that cannot become a document. Thrown per bad record, so it carries no stack trace. */
public final class SampleRejected extends Exception {
    private final RejectReason reason;

    public SampleRejected(RejectReason reason, String detail) {
        super(detail, null, false, false);
        this.reason = reason;
    }

    public RejectReason reason() {
        return reason;
    }
}
