package ai.omnispark.data.pipeline;

import java.io.Serializable;

/** One chat turn. */
public record Message(String role, String content) implements Serializable {}
