package ai.omnispark.trainer.config;

/** A configuration that cannot run; the message names the key and what is allowed. */
public class ConfigException extends IllegalArgumentException {
    public ConfigException(String message) {
        super(message);
    }

    /** Keeps the cause, so a caller can still tell an unreachable host from a wrong value. */
    public ConfigException(String message, Throwable cause) {
        super(message, cause);
    }
}
