package ai.omnispark.models.llm;

import ai.omnispark.models.hf.HfCheckpoint;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.types.DataType;
import ai.omnispark.parallel.param.LocalParams;
import ai.omnispark.parallel.runtime.RankContext;
import ai.omnispark.parallel.safetensors.SafeDType;
import ai.omnispark.parallel.safetensors.SafeTensorsReader;
import ai.omnispark.parallel.safetensors.SafeTensorsWriter;
import ai.omnispark.parallel.safetensors.TensorInfo;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A tied model's folder may carry {@code lm_head.weight} only if it is the embedding itself. */
class TiedHeadTest {
    private static final String EMBED = "model.embed_tokens.weight";
    private static final String HEAD = "lm_head.weight";
    private static RankContext rank;

    @BeforeAll
    static void start() {
        rank = RankContext.single(1);
        rank.bindThread();
    }

    @AfterAll
    static void stop() {
        rank.close();
    }

    private static final DecoderLM MODEL = new DecoderLM(DecoderConfig.builder().family("qwen3").vocabSize(31)
            .hiddenSize(16).intermediateSize(24).numLayers(1).numHeads(4).numKvHeads(2).headDim(8)
            .tieWordEmbeddings(true).bosTokenId(1).eosTokenId(2).build());

    /**
     * Exports a tied model (which writes no head), then rewrites its weights file with a head made
     * from the embedding's bytes by {@code head}, stored as {@code dtype} with {@code shape}.
     */
    private static void tiedFolderWithHead(Path dir, SafeDType dtype, long[] shape, UnaryOperator<ByteBuffer> head)
            throws IOException {
        try (LocalParams params = new LocalParams(rank.manager(), MODEL.units(), DataType.FLOAT32, 5)) {
            HfCheckpoint.export(MODEL, params, rank.manager(), dir, SafeDType.F32);
        }
        Path file = dir.resolve(HfCheckpoint.WEIGHTS);
        SafeTensorsWriter writer = new SafeTensorsWriter();
        try (SafeTensorsReader reader = SafeTensorsReader.open(file)) {
            for (TensorInfo t : reader.tensors()) {
                writer.add(t.name(), t.dtype(), t.shape(), reader.read(t.name()));
            }
            writer.add(HEAD, dtype, shape, head.apply(reader.read(EMBED)));
        }
        writer.write(file);
    }

    private static float[] loadedEmbedding(Path dir) throws IOException {
        try (LocalParams params = new LocalParams(rank.manager(), MODEL.units(), DataType.FLOAT32, 99)) {
            HfCheckpoint.load(MODEL, params, rank.manager(), dir);
            return java.util.Arrays.copyOf(params.weights("embed").toFloatArray(), 31 * 16);
        }
    }

    @Test
    void aHeadEqualToTheEmbeddingIsAccepted(@TempDir Path dir) throws IOException {
        tiedFolderWithHead(dir, SafeDType.F32, new long[] {31, 16}, embed -> embed);
        float[] stored;
        try (SafeTensorsReader reader = SafeTensorsReader.open(dir.resolve(HfCheckpoint.WEIGHTS))) {
            stored = reader.readFloats(EMBED);
        }
        assertArrayEquals(stored, loadedEmbedding(dir));
    }

    @Test
    void aHeadDifferingFromTheEmbeddingIsRefused(@TempDir Path dir) throws IOException {
        tiedFolderWithHead(dir, SafeDType.F32, new long[] {31, 16}, embed -> {
            ByteBuffer b = ByteBuffer.allocate(embed.remaining()).order(ByteOrder.LITTLE_ENDIAN).put(embed).flip();
            int at = (3 * 16 + 5) * 4;
            b.putFloat(at, b.getFloat(at) + 1e-3f);
            return b;
        });
        IOException e = assertThrows(IOException.class, () -> loadedEmbedding(dir));
        assertTrue(e.getMessage().contains("lm_head.weight differing from model.embed_tokens.weight (first at row 3, "
                + "column 5)") && e.getMessage().contains("tie_word_embeddings: true"), e.getMessage());
    }

    @Test
    void aHeadOfAnotherShapeOrDtypeIsRefused(@TempDir Path shape, @TempDir Path dtype) throws IOException {
        tiedFolderWithHead(shape, SafeDType.F32, new long[] {16, 31}, embed -> embed);
        IOException e = assertThrows(IOException.class, () -> loadedEmbedding(shape));
        assertTrue(e.getMessage().contains("lm_head.weight F32[16, 31] and model.embed_tokens.weight F32[31, 16]"),
                e.getMessage());
        tiedFolderWithHead(dtype, SafeDType.F16, new long[] {31, 32}, embed -> embed);
        e = assertThrows(IOException.class, () -> loadedEmbedding(dtype));
        assertTrue(e.getMessage().contains("lm_head.weight F16[31, 32] and model.embed_tokens.weight F32[31, 16]"),
                e.getMessage());
    }
}
