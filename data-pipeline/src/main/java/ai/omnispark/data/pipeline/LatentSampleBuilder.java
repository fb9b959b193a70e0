package ai.omnispark.data.pipeline;

import ai.omnispark.data.latent.ByteTextEmbedder;
import ai.omnispark.data.latent.FloatTensor;
import ai.omnispark.data.latent.LatentRecord;
import ai.omnispark.data.latent.PixelEncoder;
import ai.omnispark.data.latent.SafetensorsTensor;
import ai.omnispark.data.media.Media;
import ai.omnispark.data.media.MediaTooLargeException;
import ai.omnispark.data.media.VideoDecoder;
import ai.omnispark.data.reader.HadoopSeekableChannel;
import ai.omnispark.models.api.Sample;
import ai.omnispark.parallel.safetensors.SafeTensorsReader;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Turns one video_latent record into a latent {@link Sample}, or says why it cannot. A record with
 * {@code latents} gives its tensors (nested arrays or safetensors references); a record without
 * them but with a video and a caption (the embedded default, e.g. the sample's video_text.jsonl)
 * is encoded by the {@link PixelEncoder} and the {@link ByteTextEmbedder}.
 */
final class LatentSampleBuilder {
    // The record's field names are the sample's column names.
    private static final String LATENTS = Sample.LATENTS;
    private static final String TEXT_EMBEDS = Sample.TEXT_EMBEDS;
    private static final String COND_LATENTS = Sample.COND_LATENTS;
    private static final String IMAGE_EMBEDS = Sample.IMAGE_EMBEDS;

    private final PrepareConfig config;
    private final Configuration conf;
    private final MediaLoader loader;
    private final VideoDecoder videos;
    private final PixelEncoder encoder;
    private final ByteTextEmbedder embedder;

    LatentSampleBuilder(PrepareConfig config, Configuration conf, MediaLoader loader) {
        this.config = config;
        this.conf = conf;
        this.loader = loader;
        this.videos = new VideoDecoder(config.media());
        this.encoder = new PixelEncoder(config.latentChannels());
        this.embedder = new ByteTextEmbedder(config.textEmbedDim(), config.textEmbedLen());
    }

    Sample build(SourceRecord record, String sourceFile) throws SampleRejected {
        TensorField latents = record.tensor(LATENTS);
        LatentRecord tensors;
        if (latents != null) {
            TensorField text = record.tensor(TEXT_EMBEDS);
            if (text == null) {
                throw new SampleRejected(RejectReason.MISSING_COLUMN, "the record has 'latents' but no '"
                        + TEXT_EMBEDS + "'");
            }
            TensorField cond = record.tensor(COND_LATENTS);
            if (cond == null && config.imageToVideo()) {
                throw new SampleRejected(RejectReason.MISSING_COLUMN, "data.image_to_video is on but the record has no '"
                        + COND_LATENTS + "'");
            }
            TensorField image = record.tensor(IMAGE_EMBEDS);
            tensors = new LatentRecord(load(LATENTS, latents, sourceFile), load(TEXT_EMBEDS, text, sourceFile),
                    cond == null ? null : load(COND_LATENTS, cond, sourceFile),
                    image == null ? null : load(IMAGE_EMBEDS, image, sourceFile));
        } else {
            tensors = encoded(record, sourceFile);
        }
        try {
            return tensors.toSample(config.latentChannels(), config.textEmbedDim(), config.textEmbedLen());
        } catch (IllegalArgumentException e) {
            throw new SampleRejected(RejectReason.BAD_TENSOR, e.getMessage());
        }
    }

    /** The embedded default: the record's video through the pixel encoder, its caption through the byte embedder. */
    private LatentRecord encoded(SourceRecord record, String sourceFile) throws SampleRejected {
        List<MediaRef> refs = record.media(config.videoKey());
        if (refs == null || refs.isEmpty()) {
            throw new SampleRejected(RejectReason.MISSING_COLUMN, "the record has neither 'latents' (precomputed) nor '"
                    + config.videoKey() + "' (a video to encode)");
        }
        if (refs.size() != 1) {
            throw new SampleRejected(RejectReason.MISSING_COLUMN, "'" + config.videoKey() + "' holds " + refs.size()
                    + " videos; a video_latent record takes one");
        }
        String caption = SampleBuilder.requiredText(config, record);
        MediaRef ref = refs.get(0);
        byte[] bytes = loader.load(ref, sourceFile);
        Media video;
        try {
            video = videos.decode(bytes);
        } catch (MediaTooLargeException e) {
            throw new SampleRejected(RejectReason.MEDIA_TOO_LARGE, (ref.path() != null ? ref.path() + ": " : "")
                    + e.getMessage());
        } catch (IOException e) {
            throw new SampleRejected(RejectReason.UNDECODABLE_VIDEO, (ref.path() != null ? ref.path() + ": " : "")
                    + e.getMessage());
        }
        int[] shape;
        float[] latents;
        try {
            shape = encoder.latentShape(video.frames(), video.height(), video.width());
            latents = encoder.encode(video.pixels(), video.frames(), video.height(), video.width());
        } catch (IllegalArgumentException e) {
            throw new SampleRejected(RejectReason.UNDECODABLE_VIDEO, (ref.path() != null ? ref.path() + ": " : "")
                    + e.getMessage());
        }
        FloatTensor cond = null;
        if (config.imageToVideo()) {
            byte[] first = java.util.Arrays.copyOf(video.pixels(), video.height() * video.width() * 3);
            cond = new FloatTensor(encoder.encodeCondition(first, video.height(), video.width(), shape[1]), shape);
        }
        return new LatentRecord(new FloatTensor(latents, shape), new FloatTensor(embedder.embed(caption),
                embedder.shape()), cond, null);
    }

    private FloatTensor load(String key, TensorField field, String sourceFile) throws SampleRejected {
        if (field.inline() != null) {
            return field.inline();
        }
        Path path = MediaLoader.resolve(field.path(), sourceFile);
        try {
            FileSystem fs = path.getFileSystem(conf);
            long size = fs.getFileStatus(path).getLen();
            try (SafeTensorsReader reader = SafeTensorsReader.open(HadoopSeekableChannel.open(fs, path), size,
                    path.toString())) {
                return SafetensorsTensor.read(reader, field.tensorName(), path.toString());
            }
        } catch (FileNotFoundException e) {
            throw new SampleRejected(RejectReason.MISSING_FILE, "'" + key + "': no file at " + path);
        } catch (IllegalArgumentException e) {
            throw new SampleRejected(RejectReason.BAD_TENSOR, "'" + key + "': " + e.getMessage());
        } catch (IOException | RuntimeException e) {
            throw new SampleRejected(RejectReason.BAD_TENSOR, "'" + key + "': cannot read " + path + " as safetensors: "
                    + e.getMessage());
        }
    }
}
