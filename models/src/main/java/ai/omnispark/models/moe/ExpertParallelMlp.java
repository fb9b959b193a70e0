package ai.omnispark.models.moe;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.omnispark.models.decoder.DecoderNames;
import ai.omnispark.models.nn.Ops;
import ai.omnispark.parallel.comm.Communicator;
import ai.omnispark.parallel.engine.ManualSegment;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.engine.SegmentCall;
import java.util.ArrayList;
import java.util.List;

/**
 * A sparse MLP under expert parallelism: the ep group's rank p holds experts
 * {@code [p * L, (p + 1) * L)} of the layer (L = E / ep), and the layer runs as five segments:
 *
 * <pre>
 *  mlp.i.route     (recorded, unit layers.i)  norm, router, rows sorted by expert (one gather)
 *  mlp.i.dispatch  (manual)   counts all-to-all, rows all-to-allV to the experts' ranks
 *                             backward: the reverse all-to-allV of the row gradients
 *  mlp.i.experts   (recorded, the local expert units)  one pass per local expert over its rows
 *  mlp.i.combine   (manual)   the reverse all-to-allV: outputs back to the tokens' ranks
 *                             backward: the forward all-to-allV of the output gradients
 *  mlp.i.merge     (recorded, unit layers.i)  weighted sum over the k slots, shared expert, residual
 * </pre>
 *
 * Between them flows {@code [residual, weights, rows, rowOfSlot, sentPerExpert, normed, stats...]}
 * (rows: what this rank sends, then what it received, then the expert outputs, then the outputs of
 * its own slots; the router statistics of {@link MoeMlp#statistics} at the end when the
 * load-balancing loss is on). The received counts, which dispatch learns from the counts exchange,
 * go in the micro-batch's {@link ai.omnispark.parallel.engine.Batch}: combine and both backwards
 * read them there, so no exchange is ever repeated. Manual segments are never recomputed
 * ({@link ai.omnispark.parallel.engine.Recompute}); the recorded ones recompute the same values
 * (the routing is a pure function of their inputs).
 */
final class ExpertParallelMlp {
    private static final int RESIDUAL = 0;
    private static final int WEIGHTS = 1;
    private static final int ROWS = 2;
    private static final int ROW_OF_SLOT = 3;
    private static final int SENT = 4;
    private static final int NORMED = 5;
    private static final int STATS = 6;

    private ExpertParallelMlp() {}

    /** The segments of sparse layer {@code layer} on the ep group {@code ep} (this rank's index = its ep coordinate). */
    static List<Segment> segments(MoeConfig config, int layer, Communicator ep, RouterMetrics metrics) {
        if (config.numExperts() % ep.size() != 0) {
            throw new IllegalArgumentException("expert parallelism: num_experts " + config.numExperts()
                    + " is not divisible by the ep size " + ep.size() + " (train.expert_parallel_size / "
                    + "train.accelerator.ep_size must divide the number of experts)");
        }
        return List.of(new Route(config, layer, metrics), new Exchange(layer, ep, true), new Experts(config, layer, ep),
                new Exchange(layer, ep, false), new Merge(config, layer));
    }

    /** The batch key of the rows this rank received per (source, local expert) in layer {@code layer}. */
    static String receivedKey(int layer) {
        return "moe_ep_received." + layer;
    }

    private static long[] received(SegmentCall call, int layer) {
        return call.batch().get(receivedKey(layer)).toLongArray();
    }

    /** {@code inputs} with slot {@code i} replaced. */
    private static NDList with(NDList inputs, int i, NDArray value) {
        NDList out = new NDList(inputs.size());
        for (int j = 0; j < inputs.size(); j++) {
            out.add(j == i ? value : inputs.get(j));
        }
        return out;
    }

    /** The input gradients of a manual segment that changes only slot ROWS: the others pass through. */
    private static NDList passThrough(NDList inputs, NDList gradOutputs, NDArray rowsGrad) {
        NDList grads = new NDList(inputs.size());
        for (int j = 0; j < inputs.size(); j++) {
            grads.add(j == ROWS ? rowsGrad : inputs.get(j).getDataType().isFloating() ? gradOutputs.get(j) : null);
        }
        return grads;
    }

    /**
     * The gradient of the output rows ({@code rows} of them), zeros where none reached them: the
     * peers still expect the exchange.
     */
    private static NDArray rowsGrad(SegmentCall call, NDList inputs, NDList gradOutputs, long rows) {
        NDArray g = gradOutputs == null ? null : gradOutputs.get(ROWS);
        NDArray like = inputs.get(ROWS);
        return g != null ? g : call.manager().zeros(new Shape(rows, like.getShape().get(1)), like.getDataType());
    }

    private static final class Route implements Segment {
        private final MoeConfig config;
        private final int layer;
        private final RouterMetrics metrics;

        Route(MoeConfig config, int layer, RouterMetrics metrics) {
            this.config = config;
            this.layer = layer;
            this.metrics = metrics;
        }

        @Override
        public String name() {
            return "mlp." + layer + ".route";
        }

        @Override
        public List<String> units() {
            return List.of(DecoderNames.unit(layer));
        }

        @Override
        public NDList forward(SegmentCall call, NDList inputs) {
            NDArray r = inputs.get(0);
            NDArray m = Ops.rmsNorm(r, call.param(DecoderNames.layer(layer, "post_attention_layernorm.weight")),
                    config.rmsNormEps());
            NDArray flat = m.reshape(-1, config.hiddenSize());
            Router.Routing routing = Router.route(flat, call.param(DecoderNames.layer(layer, "mlp.gate.weight")),
                    config.numExpertsPerTok(), config.normTopkProb());
            metrics.record(call, layer, routing);
            GroupedExperts.Sorted sorted = GroupedExperts.sortByExpert(routing.experts(), routing.topK(),
                    config.numExperts());
            NDManager manager = call.manager();
            NDArray rows = GroupedExperts.gather(flat, GroupedExperts.index(manager, sorted.tokenOfRow()));
            long[] sent = new long[sorted.count().length];
            for (int e = 0; e < sent.length; e++) {
                sent[e] = sorted.count()[e];
            }
            NDList out = new NDList(r, routing.weights(), rows, GroupedExperts.index(manager, sorted.rowOfSlot()),
                    Ops.owned(manager.create(sent), DataType.INT64), flat);
            if (config.auxLoss()) {
                out.addAll(MoeMlp.statistics(config, call, routing, inputs.size() == 1 ? null : inputs.subNDList(1)));
            }
            return out;
        }
    }

    /**
     * One all-to-all of the rows between the ep ranks: toward the experts (dispatch: the per-expert
     * counts are exchanged first and kept in the batch for the way back) or back to the tokens'
     * ranks (combine). The backward is the same exchange in the other direction.
     */
    private static final class Exchange implements ManualSegment {
        private final int layer;
        private final Communicator ep;
        private final boolean toExperts;

        Exchange(int layer, Communicator ep, boolean toExperts) {
            this.layer = layer;
            this.ep = ep;
            this.toExperts = toExperts;
        }

        @Override
        public String name() {
            return "mlp." + layer + (toExperts ? ".dispatch" : ".combine");
        }

        @Override
        public List<String> units() {
            return List.of();
        }

        @Override
        public NDList forward(SegmentCall call, NDList inputs) {
            long[] sent = inputs.get(SENT).toLongArray();
            long[] received;
            if (toExperts) {
                received = ExpertExchange.receivedPerExpert(ep, call.manager(), sent);
                call.batch().put(receivedKey(layer), Ops.owned(call.manager().create(received), DataType.INT64));
            } else {
                received = received(call, layer);
            }
            long[] from = toExperts ? sent : received;
            long[] to = toExperts ? received : sent;
            NDArray rows = ExpertExchange.exchange(ep, call.manager(), inputs.get(ROWS),
                    ExpertExchange.perPeer(from, ep.size()), ExpertExchange.perPeer(to, ep.size()));
            return with(inputs, ROWS, rows);
        }

        @Override
        public NDList backward(SegmentCall call, NDList inputs, NDList gradOutputs) {
            long[] sent = inputs.get(SENT).toLongArray();
            long[] received = received(call, layer);
            // The gradient of the rows this segment produced travels back the way they came.
            long[] from = toExperts ? received : sent;
            long[] to = toExperts ? sent : received;
            NDArray g = ExpertExchange.exchange(ep, call.manager(),
                    rowsGrad(call, inputs, gradOutputs, ExpertExchange.sum(from)),
                    ExpertExchange.perPeer(from, ep.size()), ExpertExchange.perPeer(to, ep.size()));
            return passThrough(inputs, gradOutputs, g);
        }
    }

    private static final class Experts implements Segment {
        private final MoeConfig config;
        private final int layer;
        private final int local;
        private final int first;
        private final int peers;

        Experts(MoeConfig config, int layer, Communicator ep) {
            this.config = config;
            this.layer = layer;
            this.peers = ep.size();
            this.local = config.numExperts() / ep.size();
            this.first = ep.rank() * local;
        }

        @Override
        public String name() {
            return "mlp." + layer + ".experts";
        }

        /** Only this rank's experts. */
        @Override
        public List<String> units() {
            List<String> units = new ArrayList<>();
            for (int l = 0; l < local; l++) {
                units.add(MoeNames.expertUnit(layer, first + l));
            }
            return units;
        }

        @Override
        public NDList forward(SegmentCall call, NDList inputs) {
            NDArray rows = inputs.get(ROWS);
            long[] received = received(call, layer);
            int total = (int) ExpertExchange.sum(received);
            if (total == 0) {
                return inputs; // no row reached this rank's experts
            }
            // Received source-major, each source's rows sorted by local expert: regroup expert-major.
            long[] start = new long[received.length];
            for (int i = 1; i < received.length; i++) {
                start[i] = start[i - 1] + received[i - 1];
            }
            long[] order = new long[total];
            long[] back = new long[total];
            int[] count = new int[local];
            int next = 0;
            for (int l = 0; l < local; l++) {
                for (int s = 0; s < peers; s++) {
                    int block = s * local + l;
                    for (long j = 0; j < received[block]; j++) {
                        order[next] = start[block] + j;
                        back[(int) (start[block] + j)] = next;
                        next++;
                    }
                    count[l] += (int) received[block];
                }
            }
            NDManager manager = call.manager();
            NDArray byExpert = GroupedExperts.runSorted(GroupedExperts.gather(rows, GroupedExperts.index(manager, order)),
                    count, l -> new GroupedExperts.Expert(call.param(MoeNames.expert(layer, first + l, "gate_proj")),
                            call.param(MoeNames.expert(layer, first + l, "up_proj")),
                            call.param(MoeNames.expert(layer, first + l, "down_proj"))));
            return with(inputs, ROWS, GroupedExperts.gather(byExpert, GroupedExperts.index(manager, back)));
        }
    }

    private static final class Merge implements Segment {
        private final MoeConfig config;
        private final int layer;

        Merge(MoeConfig config, int layer) {
            this.config = config;
            this.layer = layer;
        }

        @Override
        public String name() {
            return "mlp." + layer + ".merge";
        }

        @Override
        public List<String> units() {
            return List.of(DecoderNames.unit(layer));
        }

        @Override
        public NDList forward(SegmentCall call, NDList inputs) {
            NDArray r = inputs.get(RESIDUAL);
            NDArray moe = GroupedExperts.combine(inputs.get(ROWS), inputs.get(ROW_OF_SLOT), inputs.get(WEIGHTS));
            if (config.sharedExpert()) {
                NDArray flat = inputs.get(NORMED);
                NDArray shared = MoeMlp.swiglu(flat, call.param(DecoderNames.layer(layer, "mlp.shared_expert.gate_proj.weight")),
                        call.param(DecoderNames.layer(layer, "mlp.shared_expert.up_proj.weight")),
                        call.param(DecoderNames.layer(layer, "mlp.shared_expert.down_proj.weight")));
                NDArray gate = Activation.sigmoid(Ops.linear(flat,
                        call.param(DecoderNames.layer(layer, "mlp.shared_expert_gate.weight")), null));
                moe = moe.add(gate.mul(shared));
            }
            NDList out = new NDList(r.add(moe.reshape(r.getShape())));
            for (int i = STATS; i < inputs.size(); i++) {
                out.add(inputs.get(i));
            }
            return out;
        }
    }
}
