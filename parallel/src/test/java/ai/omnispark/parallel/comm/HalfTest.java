package ai.omnispark.parallel.comm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.engine.PtNDArray;
import java.nio.ByteOrder;
import java.nio.ShortBuffer;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The hand-written half-precision conversions agree with libtorch's bit for bit. */
class HalfTest {

    @Test
    void conversionsMatchLibtorch() {
        Random rnd = new Random(7);
        int n = 200_000;
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
            double scale = Math.pow(2, rnd.nextInt(50) - 30); // subnormals through overflow
            f[i] = (float) (rnd.nextGaussian() * scale);
        }
        f[0] = Float.NaN;
        f[1] = Float.POSITIVE_INFINITY;
        f[2] = -0f;
        f[3] = 65519.99f;
        f[4] = 65520f;
        try (NDManager m = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
            NDArray half = m.create(f).toType(DataType.FLOAT16, false);
            ShortBuffer bits = ((PtNDArray) half).toByteBuffer(true)
                    .order(ByteOrder.nativeOrder()).asShortBuffer();
            for (int i = 0; i < n; i++) {
                short mine = Half.fromFloat(f[i]);
                short torch = bits.get(i);
                if (Float.isNaN(f[i])) {
                    assertEquals(true, Float.isNaN(Half.toFloat(mine)));
                    continue;
                }
                assertEquals(torch, mine, "float " + f[i]);
            }
            float[] back = half.toType(DataType.FLOAT32, false).toFloatArray();
            for (int i = 0; i < n; i++) {
                assertEquals(back[i], Half.toFloat(bits.get(i)), 0f, "half bits " + bits.get(i));
            }
        }
    }
}
