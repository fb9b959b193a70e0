package ai.omnispark.data.pipeline;

import ai.omnispark.data.media.Media;
import ai.omnispark.data.pack.Document;
import java.util.List;

/** A record turned into a document plus its media, in the order of their placeholders. */
public record Sample(Document document, List<Media> media) {}
