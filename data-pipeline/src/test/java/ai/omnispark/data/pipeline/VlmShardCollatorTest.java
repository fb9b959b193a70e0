package ai.omnispark.data.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.data.arrow.Manifest;
import ai.omnispark.data.reader.Cursor;
import ai.omnispark.data.reader.ReaderOptions;
import ai.omnispark.data.reader.ShardReader;
import ai.omnispark.data.sample.SyntheticSample;
import ai.omnispark.data.tokenizer.ByteTokenizer;
import ai.omnispark.models.api.Sample;
import ai.omnispark.models.nn.TokenBatch;
import ai.omnispark.models.vlm.VisionGeometry;
import ai.omnispark.models.vlm.VlmBatch;
import ai.omnispark.models.vlm.VlmCollator;
import ai.omnispark.models.vlm.VlmTokens;
import ai.omnispark.parallel.engine.Batch;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The sample's image and video records prepared with vision markers (as
 * {@code conf/examples/prepare-{image,video}-text.yaml} with {@code data.vision_markers: true}),
 * read back by the rank-side reader and collated by the vision-language collator: every media's
 * placeholder run sits between the markers and holds one token per merged patch of its grid, and
 * the batch's counts agree (pixel rows = patches, token index = placeholders, segments = frame
 * groups), and the M-RoPE position of a caption's last token is its 1-D position minus what the
 * image's grid saved.
 */
class VlmShardCollatorTest {
    private static final int VOCAB = ByteTokenizer.VOCAB_SIZE + 4;
    private static final VlmTokens TOKENS = new VlmTokens(ByteTokenizer.VOCAB_SIZE, ByteTokenizer.VOCAB_SIZE + 1,
            ByteTokenizer.VOCAB_SIZE + 2, ByteTokenizer.VOCAB_SIZE + 3);
    private static final VisionGeometry GEOMETRY = new VisionGeometry(3, 14, 2, 2);
    private static final int HEAD_DIM = 16;
    private static final double THETA = 1e6;
    private static final int[] SECTION = {2, 3, 3};
    private static SparkSession spark;

    @TempDir
    static Path tmp;

    @BeforeAll
    static void start() throws Exception {
        spark = SparkTestSession.start("vlm-shard-collator-test");
        SyntheticSample.write(tmp.resolve("sample"), 0, 6, 15);
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    private static PrepareConfig config(String input, DataType type, String out) {
        return PrepareConfig.builder().inputPath(tmp.resolve("sample").resolve(input).toString()).dataType(type)
                .maxSeqLen(256).numShards(2).outputPath(tmp.resolve(out).toString()).visionMarkers(true).build();
    }

    @Test
    void imageShardsCollateToConsistentCounts() throws Exception {
        PrepareResult prepared = PreparePipeline.run(spark, config("image_text.jsonl", DataType.IMAGE_TEXT, "img"));
        Manifest manifest = prepared.manifest();
        assertEquals(TOKENS.visionStartTokenId(), ((Number) manifest.config().get("vision_start_token_id")).intValue());
        assertEquals(TOKENS.visionEndTokenId(), ((Number) manifest.config().get("vision_end_token_id")).intValue());
        Counts counts = collateAll(tmp.resolve("img"), manifest);
        assertEquals(6, counts.media);
        assertEquals(6, counts.frameGroups, "an image is one frame group");
        // 112 x 112 images: 8 x 8 patches, 4 x 4 merged tokens each
        assertEquals(6 * 64, counts.patches);
        assertEquals(6 * 16, counts.placeholders);
        assertEquals(6, counts.checkedCaptionEnds);
    }

    @Test
    void videoShardsCollateToConsistentCounts() throws Exception {
        PrepareResult prepared = PreparePipeline.run(spark, config("video_text.jsonl", DataType.VIDEO_TEXT, "vid"));
        Manifest manifest = prepared.manifest();
        Counts counts = collateAll(tmp.resolve("vid"), manifest);
        assertEquals(6, counts.media);
        assertEquals(manifest.frames() / 2, counts.frameGroups, "frames / temporal_patch_size groups");
        assertTrue(counts.frameGroups > counts.media, "the sample's videos hold more than one frame group");
        assertEquals(counts.frameGroups * 64, counts.patches);
        assertEquals(counts.frameGroups * 16, counts.placeholders);
        assertEquals(6, counts.checkedCaptionEnds);
    }

    private record Counts(long media, long frameGroups, long patches, long placeholders, long checkedCaptionEnds) {}

    private static Counts collateAll(Path dataset, Manifest manifest) throws Exception {
        FileSystem fs = FileSystem.getLocal(new Configuration());
        List<Sample> rows = new ArrayList<>();
        try (ShardReader reader = ShardReader.open(fs, new org.apache.hadoop.fs.Path(dataset.toString()),
                ReaderOptions.of(0, 1, 1), Cursor.START)) {
            for (long i = 0; i < manifest.rows(); i++) {
                rows.add(reader.next());
            }
        }
        VlmCollator collator = new VlmCollator(TOKENS, GEOMETRY, VOCAB, HEAD_DIM, THETA, SECTION, 16);
        long media = 0;
        long groups = 0;
        long patches = 0;
        long placeholders = 0;
        long captionEnds = 0;
        for (int from = 0; from < rows.size(); from += 2) {
            List<Sample> micro = rows.subList(from, Math.min(rows.size(), from + 2));
            try (NDManager scope = NDManager.newBaseManager()) {
                Batch batch = collator.collate(scope, micro, ai.djl.ndarray.types.DataType.FLOAT64, null);
                long[] grid = batch.get(VlmBatch.GRID_THW).toLongArray();
                long[] segments = batch.get(VlmBatch.VISION_SEGMENTS).toLongArray();
                long[] index = batch.get(VlmBatch.MEDIA_TOKEN_INDEX).toLongArray();
                Shape pixels = batch.get(VlmBatch.PIXEL_VALUES).getShape();
                int n = grid.length / 3;
                long gridPatches = 0;
                long merged = 0;
                for (int k = 0; k < n; k++) {
                    gridPatches += grid[3 * k] * grid[3 * k + 1] * grid[3 * k + 2];
                    merged += grid[3 * k] * (grid[3 * k + 1] / 2) * (grid[3 * k + 2] / 2);
                }
                assertEquals(new Shape(gridPatches, GEOMETRY.patchElements()), pixels);
                assertEquals(gridPatches, java.util.Arrays.stream(segments).sum());
                assertEquals(new Shape(gridPatches, 16), batch.get(VlmBatch.VISION_ROPE_COS).getShape());
                assertEquals(merged, index.length);
                int seqLen = micro.get(0).length();
                long[] ids = batch.get(TokenBatch.INPUT_IDS).toLongArray();
                long placeholdersHere = 0;
                for (long id : ids) {
                    placeholdersHere += TOKENS.isPlaceholder((int) id) ? 1 : 0;
                }
                assertEquals(placeholdersHere, index.length, "every placeholder token is scattered to");
                for (long i : index) {
                    assertTrue(TOKENS.isPlaceholder((int) ids[(int) i]), "index " + i + " is a placeholder");
                }
                // Per media: its run lies between the markers and has one token per merged patch.
                int k = 0;
                for (int r = 0; r < micro.size(); r++) {
                    for (int i = 0; i < seqLen; i++) {
                        if (ids[r * seqLen + i] == TOKENS.visionStartTokenId()) {
                            int length = 0;
                            while (TOKENS.isPlaceholder((int) ids[r * seqLen + i + 1 + length])) {
                                length++;
                            }
                            assertEquals(TOKENS.visionEndTokenId(), ids[r * seqLen + i + 1 + length]);
                            assertEquals(grid[3 * k] * (grid[3 * k + 1] / 2) * (grid[3 * k + 2] / 2), length,
                                    "placeholders of media " + k);
                            assertEquals(0, micro.get(r).ints(Sample.POSITION_IDS)[i], "a caption starts with its media");
                            checkDocumentEnd(batch, micro.get(r), r, i, length, grid, k);
                            captionEnds++;
                            k++;
                        }
                    }
                }
                assertEquals(n, k, "one marked run per media");
                media += n;
                groups += segments.length;
                patches += gridPatches;
                placeholders += index.length;
            }
        }
        return new Counts(media, groups, patches, placeholders, captionEnds);
    }

    /**
     * A caption document is [vision_start, the media's placeholders, vision_end, text, EOS] with one
     * media: vision_start at 0, the media's grid from 1 with extent max(t, h/2, w/2), so the tokens
     * after it sit at their 1-D position - placeholders + extent; the rope table at the document's
     * last token must show that angle (every frequency: all three rows agree on text).
     */
    private static void checkDocumentEnd(Batch batch, Sample row, int r, int runStart, int placeholders,
            long[] grid, int k) {
        double[] cos = batch.get(TokenBatch.COS).toDoubleArray();
        int seqLen = row.length();
        int[] docs = row.ints(Sample.DOC_IDS);
        int[] positions = row.ints(Sample.POSITION_IDS);
        int last = runStart;
        while (last + 1 < seqLen && docs[last + 1] == docs[runStart]) {
            last++;
        }
        long extent = Math.max(grid[3 * k], Math.max(grid[3 * k + 1] / 2, grid[3 * k + 2] / 2));
        long expected = positions[last] - placeholders + extent;
        for (int f = 0; f < HEAD_DIM / 2; f++) {
            double angle = expected * Math.pow(THETA, -2.0 * f / HEAD_DIM);
            assertEquals(Math.cos(angle), cos[(r * seqLen + last) * HEAD_DIM + f], 1e-12,
                    "row " + r + " position " + last + " frequency " + f);
        }
    }
}
