package ai.omnispark.models.llm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.decoder.PackedRows;
import ai.omnispark.parallel.engine.Batch;
import ai.omnispark.parallel.engine.Recompute;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.engine.SegmentCall;
import ai.omnispark.parallel.engine.SegmentEngine;
import ai.omnispark.parallel.param.LocalParams;
import ai.omnispark.parallel.param.UnitLayout;
import ai.omnispark.parallel.runtime.RankContext;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * What autograd saved during a forward must still be there at backward, however much the JVM
 * collects and reallocates in between. A tensor that aliases a Java direct buffer (DJL's
 * {@code create}, and the scalar behind every {@code op(Number)} overload) is freed by the garbage
 * collector once its NDArray is closed; if autograd had saved it, backward reads freed memory. The
 * training loop hit this as rare, silent gradient corruption. Here a collection plus a heap full of
 * NaN-filled direct buffers sits between every segment's forward and the backward, and the
 * gradients must equal, bit for bit, those of an undisturbed run; with recompute on too, where
 * every block's forward runs again inside the backward (and is disturbed again).
 */
class GraphLifetimeTest {
    @Test
    void gradientsSurviveCollectionsBetweenForwardAndBackward() {
        try (RankContext rank = RankContext.single(1)) {
            rank.bindThread();
            for (String family : new String[] {"qwen3", "qwen2", "llama"}) {
                for (boolean recompute : new boolean[] {false, true}) {
                    // Llama with attention dropout: its masks ride on the batch and the mul saves them.
                    DecoderConfig config = TinyModels.tiny(family, false, false, family.equals("llama") ? 0.3 : 0);
                    float[][] quiet = gradients(rank, config, false, recompute);
                    float[][] disturbed = gradients(rank, config, true, recompute);
                    for (int u = 0; u < quiet.length; u++) {
                        assertArrayEquals(quiet[u], disturbed[u], 0f, config.family() + " dropout=" + config.attentionDropout() + " recompute=" + recompute
                                + " unit " + u);
                    }
                }
            }
        }
    }

    private static float[][] gradients(RankContext rank, DecoderConfig config, boolean disturb, boolean recompute) {
        // The loss head in chunks of 4 of the 18 tokens: each chunk's arrays are closed in forward,
        // and what autograd keeps of them must survive.
        DecoderLM model = new DecoderLM(config, 4);
        int seq = 9;
        int[][] rows = PackedRows.columns(seq, config.vocabSize(), 3);
        List<ByteBuffer> pollution = new ArrayList<>();
        List<Segment> segments = new ArrayList<>();
        for (Segment s : model.trainingSegments()) {
            segments.add(disturb ? new Disturbing(s, pollution) : s);
        }
        try (LocalParams params = new LocalParams(rank.manager(), model.units(), DataType.FLOAT32, 5);
                NDManager scope = rank.manager().newSubManager()) {
            Batch batch = TinyModels.batch(scope, config, DataType.FLOAT32, seq, rows);
            NDList seeds = new NDList(scope.full(new Shape(), 1f, DataType.FLOAT32));
            new SegmentEngine(segments, model.units(), recompute ? Recompute.all() : Recompute.none())
                    .forwardBackward(scope, batch, new NDList(), seeds, params);
            float[][] grads = new float[model.units().size()][];
            int i = 0;
            for (UnitLayout u : model.units()) {
                grads[i++] = params.grad(u.name()).toFloatArray();
            }
            return grads;
        }
    }

    /** Runs a segment, then collects and refills freed small native blocks with NaN. */
    private static final class Disturbing implements Segment {
        private final Segment inner;
        private final List<ByteBuffer> pollution;

        Disturbing(Segment inner, List<ByteBuffer> pollution) {
            this.inner = inner;
            this.pollution = pollution;
        }

        @Override
        public String name() {
            return inner.name();
        }

        @Override
        public List<String> units() {
            return inner.units();
        }

        @Override
        public NDList forward(SegmentCall call, NDList inputs) {
            NDList out = inner.forward(call, inputs);
            System.gc();
            try {
                Thread.sleep(100); // the Cleaner frees direct buffers on its own thread
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            for (int i = 0; i < 2000; i++) {
                ByteBuffer b = ByteBuffer.allocateDirect(8 << (i % 4)).order(ByteOrder.nativeOrder());
                while (b.remaining() >= 4) {
                    b.putFloat(Float.NaN);
                }
                pollution.add(b);
            }
            return out;
        }
    }
}
