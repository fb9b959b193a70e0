package ai.omnispark.data.arrow;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.models.api.SampleLayout;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A manifest's {@code sample_layout}: written by the writer, derived from the schema for manifests that predate it. */
class ManifestLayoutTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    java.nio.file.Path tmp;

    /** A manifest as OmniSpark wrote it before {@code sample_layout} existed, with a text or a media schema. */
    private static String oldManifest(boolean withMedia) {
        return """
                {"format_version":1,"fingerprint":"f","data_type":"%s","max_seq_len":8,"rows_per_batch":4,
                 "input_records":1,"rows":1,"documents":1,"tokens":8,"images":%d,"videos":0,"frames":0,
                 "rejected":0,"rejected_by_reason":{},"shards":[],"schema":%s,"config":{}}
                """.formatted(withMedia ? "image_text" : "plaintext", withMedia ? 1 : 0,
                ShardSchema.of(withMedia).toJson());
    }

    private Manifest read(String json) throws IOException {
        java.nio.file.Path dir = Files.createTempDirectory(tmp, "ds");
        Files.writeString(dir.resolve(Manifest.FILE_NAME), json, StandardCharsets.UTF_8);
        FileSystem fs = TestDatasets.localFs();
        return Manifest.read(fs, new Path(dir.toUri())).orElseThrow();
    }

    @Test
    void oldManifestsGetTheLayoutTheirSchemaImplies() throws IOException {
        assertTrue(!oldManifest(false).contains("sample_layout"), "the fixture predates the field");
        assertEquals(SampleLayout.TOKENS, read(oldManifest(false)).layout());
        assertEquals(SampleLayout.TOKENS_WITH_MEDIA, read(oldManifest(true)).layout());
    }

    @Test
    void theWriterDeclaresTheLayout() throws IOException {
        FileSystem fs = TestDatasets.localFs();
        for (boolean media : new boolean[] {false, true}) {
            Path dir = new Path(tmp.resolve(media ? "media" : "text").toUri());
            TestDatasets.write(fs, dir, new int[] {3}, 2, media);
            JsonNode written = JSON.readTree(tmp.resolve(media ? "media" : "text").resolve(Manifest.FILE_NAME).toFile());
            assertEquals(media ? "tokens_with_media" : "tokens", written.path("sample_layout").asText(),
                    written.toString());
        }
    }

    @Test
    void aDeclaredLayoutIsReadAsWrittenAndAnUnknownOneIsRefused() throws IOException {
        ObjectNode declared = (ObjectNode) JSON.readTree(oldManifest(false));
        declared.put("sample_layout", "latents");
        assertEquals(SampleLayout.LATENTS, read(declared.toString()).layout());
        declared.put("sample_layout", "pixels");
        Exception e = assertThrows(Exception.class, () -> read(declared.toString()));
        String message = e.getMessage() + (e.getCause() == null ? "" : " / " + e.getCause().getMessage());
        assertTrue(message.contains("unknown sample layout 'pixels'"), message);
    }

    @Test
    void theSummaryLineSaysTheLayout() throws IOException {
        Manifest m = new Manifest(Manifest.FORMAT_VERSION, "f", "video_text", "tokens_with_media", 8, 4, 1, 1, 1, 8,
                0, 1, 4, 0, Map.of(), List.of(), Manifest.schemaJson(ShardSchema.of(true)), Map.of());
        assertEquals("tokens_with_media", JSON.readTree(m.summaryLine("x")).path("sample_layout").asText());
    }
}
