package ai.omnispark.data.pipeline;

import ai.omnispark.data.pack.Document;
import ai.omnispark.data.tokenizer.Tokenizer;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;

/**
 * The ChatML layout used by Qwen: each message becomes
 * {@code <|im_start|>ROLE\nCONTENT<|im_end|>\n}. Only assistant turns are learned: their content and
 * closing {@code <|im_end|>\n} are trainable, headers and every other role are not, so the loss
 * teaches answering and stopping, never the prompt.
 *
 * <p>A media placeholder ({@code <image>}, {@code <video>}) in the content is replaced by that
 * media's run of placeholder ids (never trainable); when no message names one, all media go in
 * front of the first message's content. Segments are tokenized separately, so the markers stay
 * whole with a tokenizer that knows them and are plain bytes with the byte tokenizer.
 */
public final class ChatTemplate {
    public static final String START = "<|im_start|>";
    public static final String END = "<|im_end|>";

    private ChatTemplate() {}

    public static boolean learned(String role) {
        return role.equals("assistant") || role.equals("gpt");
    }

    /**
     * @param mediaRuns placeholder ids of each media, in the order the placeholders appear
     * @param placeholder the text that marks a media in the content, e.g. {@code <image>}
     */
    public static Document apply(Tokenizer tokenizer, List<Message> messages, List<int[]> mediaRuns,
            String placeholder) throws SampleRejected {
        if (messages.isEmpty()) {
            throw new SampleRejected(RejectReason.EMPTY_TEXT, "the conversation has no messages");
        }
        int named = 0;
        for (Message m : messages) {
            named += count(m.content(), placeholder);
        }
        if (named != 0 && named != mediaRuns.size()) {
            throw new SampleRejected(RejectReason.BAD_MESSAGES, "the conversation names " + named + " " + placeholder
                    + " placeholders but the record has " + mediaRuns.size() + " media");
        }
        boolean anyLearned = false;
        Deque<int[]> runs = new ArrayDeque<>(mediaRuns);
        TokenBuffer out = new TokenBuffer();
        for (int i = 0; i < messages.size(); i++) {
            Message m = messages.get(i);
            boolean learn = learned(m.role());
            anyLearned |= learn && !m.content().isBlank();
            out.add(tokenizer.encode(START + m.role() + "\n"), false);
            if (named == 0 && i == 0) {
                while (!runs.isEmpty()) {
                    out.add(runs.poll(), false);
                }
            }
            String content = m.content();
            int from = 0;
            int at;
            while (placeholder != null && (at = content.indexOf(placeholder, from)) >= 0) {
                out.add(tokenizer.encode(content.substring(from, at)), learn);
                out.add(runs.poll(), false);
                from = at + placeholder.length();
            }
            out.add(tokenizer.encode(content.substring(from)), learn);
            out.add(tokenizer.encode(END + "\n"), learn);
        }
        if (!anyLearned) {
            throw new SampleRejected(RejectReason.EMPTY_TEXT, "the conversation has no non-empty assistant turn");
        }
        return out.toDocument();
    }

    private static int count(String text, String placeholder) {
        if (placeholder == null) {
            return 0;
        }
        int n = 0;
        for (int at = text.indexOf(placeholder); at >= 0; at = text.indexOf(placeholder, at + placeholder.length())) {
            n++;
        }
        return n;
    }
}
