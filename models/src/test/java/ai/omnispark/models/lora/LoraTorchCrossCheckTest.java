package ai.omnispark.models.lora;

import ai.omnispark.models.testing.TorchPeer;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.nn.Ops;
import ai.omnispark.parallel.param.Init;
import ai.omnispark.parallel.param.LocalParams;
import ai.omnispark.parallel.param.UnitLayout;
import ai.omnispark.parallel.runtime.Autograd;
import ai.omnispark.parallel.runtime.RankContext;
import ai.omnispark.parallel.runtime.RankRandom;
import ai.omnispark.parallel.safetensors.SafeDType;
import ai.omnispark.parallel.safetensors.SafeTensorsWriter;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * LoRA against PyTorch: the adapter folder this project writes, loaded into PEFT's layer structure
 * written out in torch modules ({@code peft_reference.py}), gives the same output and gradients of A
 * and B in float64 (within 1e-10 relative), and torch's {@code kaiming_uniform_(a=sqrt(5))} bound is
 * {@link ai.omnispark.parallel.param.Init.KaimingUniform}'s. Needs Debian's /usr/bin/python3 with
 * python3-torch; skipped without it.
 */
class LoraTorchCrossCheckTest {
    private static final String MODULE = "layers.0.q_proj";
    private static final String HF_LINEAR = "model.layers.0.self_attn.q_proj";
    private static final int IN = 6;
    private static final int OUT = 5;
    private static final long[] X_SHAPE = {2, 3, IN};
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    private static ByteBuffer f64(double[] values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (double v : values) {
            b.putDouble(v);
        }
        return b.flip();
    }

    private static double[] gaussian(SplittableRandom r, int n, double std) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = r.nextGaussian() * std;
        }
        return v;
    }

    private static NDArray tensor(NDManager scope, double[] values, long... shape) {
        return Ops.owned(scope.create(values, new Shape(shape)), DataType.FLOAT64);
    }

    @Test
    void adapterFolderAndLayerMatchPytorch() throws Exception {
        TorchPeer.assume();
        LoraConfig lora = new LoraConfig(3, 4.5, 0.3, List.of("q_proj"));
        UnitLayout unit = new UnitLayout(LoraAdapters.unitOf("block.0"), LoraAdapters.specs(lora, MODULE, IN, OUT));
        SplittableRandom r = new SplittableRandom(31);
        double[] x = gaussian(r, 2 * 3 * IN, 1);
        double[] w = gaussian(r, OUT * IN, 0.5);
        double[] b = gaussian(r, OUT, 0.5);
        double[] weights = gaussian(r, 2 * 3 * OUT, 1);
        Path adapterDir = Files.createDirectories(tmp.resolve("adapter"));
        Path inputs = tmp.resolve("inputs.safetensors");
        double[] y;
        double[] gradA;
        double[] gradB;
        try (RankContext rank = RankContext.single(1)) {
            rank.bindThread();
            double[] mask;
            try (NDManager scope = rank.manager().newSubManager()) {
                mask = LoraAdapters.dropoutMask(scope, new Shape(X_SHAPE), lora.dropout(), DataType.FLOAT64,
                        new RankRandom(5, 0)).toDoubleArray();
            }
            try (LocalParams params = new LocalParams(rank.manager(), List.of(unit), DataType.FLOAT32, 9)) {
                // A as initialised (Kaiming), B random: a fresh B of zeros would make A's gradient zero.
                float[] flat = params.weights(unit.name()).toFloatArray();
                long bAt = unit.offset(LoraAdapters.loraB(MODULE));
                for (int i = (int) bAt; i < flat.length; i++) {
                    flat[i] = (float) r.nextGaussian();
                }
                try (NDManager scope = rank.manager().newSubManager()) {
                    params.loadFullWeights(unit.name(), scope.create(flat));
                }
                PeftAdapter.write(new PeftConfig(lora, "tiny"), PeftAdapter.weights(List.of(unit), params,
                        rank.manager(), lora.rank(), n -> PeftAdapter.KEY_PREFIX + n.replace(MODULE, HF_LINEAR)),
                        name -> Files.newOutputStream(adapterDir.resolve(name)));
                float[] all = params.weights(unit.name()).toFloatArray();
                double[] a = new double[(int) bAt];
                double[] bm = new double[all.length - (int) bAt];
                for (int i = 0; i < all.length; i++) {
                    if (i < bAt) {
                        a[i] = all[i];
                    } else {
                        bm[i - (int) bAt] = all[i];
                    }
                }
                boolean previous = Autograd.setGradMode(true);
                try (NDManager scope = rank.manager().newSubManager()) {
                    NDArray aLeaf = Autograd.leaf(tensor(scope, a, lora.rank(), IN));
                    NDArray bLeaf = Autograd.leaf(tensor(scope, bm, OUT, lora.rank()));
                    NDArray out = LoraAdapters.linear(tensor(scope, x, X_SHAPE), tensor(scope, w, OUT, IN),
                            tensor(scope, b, OUT), aLeaf, bLeaf, lora.scale(), tensor(scope, mask, X_SHAPE));
                    NDArray loss = out.square().mul(tensor(scope, weights, 2, 3, OUT)).sum();
                    Autograd.backward(loss, Ops.constant(loss, 1.0), false);
                    y = out.toDoubleArray();
                    gradA = Autograd.gradientOrNull(aLeaf).toDoubleArray();
                    gradB = Autograd.gradientOrNull(bLeaf).toDoubleArray();
                } finally {
                    Autograd.setGradMode(previous);
                }
            }
            new SafeTensorsWriter().add("x", SafeDType.F64, X_SHAPE, f64(x))
                    .add("w", SafeDType.F64, new long[] {OUT, IN}, f64(w))
                    .add("b", SafeDType.F64, new long[] {OUT}, f64(b))
                    .add("mask", SafeDType.F64, X_SHAPE, f64(mask))
                    .add("weights", SafeDType.F64, new long[] {2, 3, OUT}, f64(weights)).write(inputs);
        }
        byte[] stdout = TorchPeer.run("/lora/peft_reference.py", tmp, 300, adapterDir.toString(), inputs.toString(),
                HF_LINEAR);
        JsonNode torch = JSON.readTree(stdout);
        compare("y", y, torch.get("y"));
        compare("grad A", gradA, torch.get("grad_A"));
        compare("grad B", gradB, torch.get("grad_B"));
        assertFalse(torch.get("base_grad").asBoolean(), "torch gave the frozen base a gradient");
        torch.get("bounds").fields().forEachRemaining(e -> assertEquals(e.getValue().asDouble(),
                new Init.KaimingUniform(Math.sqrt(5), Long.parseLong(e.getKey())).bound(),
                1e-12 * e.getValue().asDouble(), "kaiming bound at fan-in " + e.getKey()));
    }

    /** Element by element within 1e-10 (|torch| + the largest |torch|): float64 rounding of two op orders. */
    private static void compare(String what, double[] ours, JsonNode torch) {
        assertEquals(torch.size(), ours.length, what + " sizes");
        double largest = 0;
        for (JsonNode v : torch) {
            largest = Math.max(largest, Math.abs(v.asDouble()));
        }
        assertTrue(largest > 0, what + " is all zero in torch");
        for (int i = 0; i < ours.length; i++) {
            double want = torch.get(i).asDouble();
            assertTrue(Math.abs(ours[i] - want) <= 1e-10 * (Math.abs(want) + largest),
                    what + "[" + i + "]: ours " + ours[i] + ", torch " + want);
        }
    }
}
