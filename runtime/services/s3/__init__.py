"""Amazon S3: buckets owned and configured by Terrarium, object bytes streamed to and from the backend."""
