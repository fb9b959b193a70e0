package ai.omnispark.trainer.config;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Marks a component of a config record as part of a checkpoint's fingerprint: a resume whose value
 * differs is refused (train.resume_policy strict), naming {@link #value} with both values. Mark what
 * changes which rows a step sees or what the weights mean; not logging, paths of outputs or speed.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.RECORD_COMPONENT)
public @interface Fingerprint {
    /** The config key the component holds, as the difference names it. */
    String value();
}
