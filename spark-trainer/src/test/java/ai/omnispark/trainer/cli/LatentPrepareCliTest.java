package ai.omnispark.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.data.latent.ByteTextEmbedder;
import ai.omnispark.data.reader.Cursor;
import ai.omnispark.data.reader.ReaderOptions;
import ai.omnispark.data.reader.ShardReader;
import ai.omnispark.models.api.Sample;
import ai.omnispark.models.api.SampleLayout;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code sample} then {@code prepare conf/examples/prepare-video-latent.yaml}: the sample's videos as latent rows. */
class LatentPrepareCliTest {
    @TempDir
    Path dir;

    @Test
    void theSamplesVideosPrepareIntoLatentRows() throws Exception {
        Path sample = dir.resolve("sample");
        MainCliTest.Run s = MainCliTest.main("sample", "--out", sample.toString(), "--documents", "1", "--media", "3");
        assertEquals(0, s.code(), s.err());
        Path input = sample.resolve("video_text.jsonl");
        String out = dir.resolve("latents").toString();
        String[] argv = {"prepare", MainCliTest.EXAMPLES.resolve("prepare-video-latent.yaml").toString(),
                "--set", "data.train_path=" + input, "--set", "data.output_path=" + out,
                "--set", "data.image_to_video=true"};
        MainCliTest.Run r = MainCliTest.main(argv);
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("prepared at " + out + " (3 latent rows, 3 documents, 0 rejected)"), r.out());
        JsonNode m = r.lastJson();
        assertEquals("video_latent", m.get("data_type").asText());
        assertEquals("latents", m.get("sample_layout").asText());
        assertEquals(3, m.get("input_records").asLong());
        assertEquals(3, m.get("rows").asLong());
        assertEquals(0, m.get("rejected").asLong());
        assertFalse(m.get("skipped").asBoolean());

        List<String> captions = Files.readAllLines(input).stream()
                .map(l -> {
                    try {
                        return MainCliTest.JSON.readTree(l).get("text").asText();
                    } catch (java.io.IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                }).toList();
        ByteTextEmbedder embedder = new ByteTextEmbedder(64, 64);
        try (ShardReader reader = ShardReader.open(FileSystem.getLocal(new Configuration()),
                new org.apache.hadoop.fs.Path(out), ReaderOptions.of(0, 1, 1), Cursor.START)) {
            assertEquals(SampleLayout.LATENTS, reader.layout());
            assertEquals(3, reader.rowsPerEpoch());
            for (Sample row : reader.next(3)) {
                // Hand-derived from SyntheticSample and the example: 112x112 frames, 8 frames at 4 fps read at
                // data.fps 4 = 8 frames, 5 of them encoded -> 2 latent frames of 112/8 = 14 x 14 cells.
                assertArrayEquals(new int[] {16, 2, 14, 14}, row.ints(Sample.LATENT_SHAPE));
                assertEquals(16 * 2 * 14 * 14, row.floats(Sample.LATENTS).length);
                assertArrayEquals(new int[] {64, 64}, row.ints(Sample.TEXT_EMBEDS_SHAPE));
                assertTrue(captions.stream().anyMatch(c -> Arrays.equals(embedder.embed(c),
                        row.floats(Sample.TEXT_EMBEDS))), "the text embedding is one caption's");
                assertEquals(row.floats(Sample.LATENTS).length, row.floats(Sample.COND_LATENTS).length);
            }
        }
        MainCliTest.Run again = MainCliTest.main(argv);
        assertEquals(0, again.code(), again.err());
        assertTrue(again.lastJson().get("skipped").asBoolean(), again.out());
    }
}
