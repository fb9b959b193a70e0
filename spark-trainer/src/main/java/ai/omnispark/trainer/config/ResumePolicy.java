package ai.omnispark.trainer.config;

/** {@code train.resume_policy}: what a resume does when the checkpoint's fingerprint differs. */
public enum ResumePolicy {
    /** Refuse, naming each differing key. */
    STRICT,
    /** Resume anyway and print the differences. */
    ALLOW_CHANGES;

    public boolean allowsChanges() {
        return this == ALLOW_CHANGES;
    }

    static ResumePolicy parse(String value) {
        return switch (value) {
            case "strict" -> STRICT;
            case "allow_changes" -> ALLOW_CHANGES;
            default -> throw new ConfigException("train.resume_policy is '" + value + "'; use strict or allow_changes");
        };
    }
}
