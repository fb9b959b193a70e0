package ai.omnispark.trainer.config;

/** A configuration that cannot run; the message names the key and what is allowed. */
public class ConfigException extends IllegalArgumentException {
    public ConfigException(String message) {
        super(message);
    }
}
