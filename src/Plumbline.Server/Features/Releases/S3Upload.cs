using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Plumbline.Core.Releases;

namespace Plumbline.Server.Features.Releases;

/// <summary>An <c>s3://bucket/prefix</c> destination.</summary>
public sealed record S3Destination(string Bucket, string Prefix)
{
    /// <summary>Parses <paramref name="uri"/>; throws <see cref="ReleaseException"/> saying what shape is expected.</summary>
    public static S3Destination Parse(string uri)
    {
        if (!uri.StartsWith("s3://", StringComparison.OrdinalIgnoreCase))
        {
            throw new ReleaseException($"s3 destination '{uri}' must look like s3://bucket/prefix");
        }
        var rest = uri[5..];
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        var bucket = slash < 0 ? rest : rest[..slash];
        var prefix = slash < 0 ? "" : rest[(slash + 1)..].Trim('/');
        if (bucket.Length is < 3 or > 63 || bucket.Any(ch => !(char.IsAsciiLetterLower(ch) || char.IsAsciiDigit(ch) || ch is '-' or '.')))
        {
            throw new ReleaseException($"s3 destination '{uri}': '{bucket}' is not a bucket name (3-63 lower-case letters, digits, '-' and '.')");
        }
        return new S3Destination(bucket, prefix);
    }

    /// <summary>The key of a release file under this location: <c>prefix/v{n}/path</c>.</summary>
    public string KeyOf(int version, string path) => (Prefix.Length == 0 ? "" : Prefix + "/") + $"v{version}/{path}";

    public string ToUri(int version) => $"s3://{Bucket}/{KeyOf(version, "")}";
}

/// <summary>An upload that failed: the storage service's message, for a 502 answer.</summary>
public sealed class ReleaseStorageException(string message, Exception inner) : Exception(message, inner);

/// <summary>
/// Copies a written release folder to S3-compatible storage with the AWS SDK. Credentials and endpoint come from the
/// server's environment (<c>AWS_ACCESS_KEY_ID</c>, <c>AWS_SECRET_ACCESS_KEY</c>, optional <c>AWS_REGION</c> and
/// <c>PLUMBLINE_S3_ENDPOINT</c> for MinIO, s3rver and other compatible servers), read when an upload starts so
/// rotated credentials apply without a restart. Files over the part size go up in parts, streamed from disk.
/// </summary>
public sealed class S3Uploader(IConfiguration configuration)
{
    /// <summary>Part size of multipart uploads: <c>PLUMBLINE_S3_PART_MB</c> MiB (default 16; S3's minimum of 5 applies).</summary>
    private long PartSize => Math.Max(5, int.TryParse(Setting("PLUMBLINE_S3_PART_MB"), out var mb) ? mb : 16) * 1024L * 1024;

    private string? Setting(string name) =>
        configuration[name] is { Length: > 0 } configured ? configured : Environment.GetEnvironmentVariable(name);

    /// <summary>Throws <see cref="ReleaseException"/> when the server has no credentials, before any work is done.</summary>
    public void EnsureConfigured()
    {
        if (string.IsNullOrEmpty(Setting("AWS_ACCESS_KEY_ID")) || string.IsNullOrEmpty(Setting("AWS_SECRET_ACCESS_KEY")))
        {
            throw new ReleaseException("uploading to S3 needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the server's environment "
                + "(and PLUMBLINE_S3_ENDPOINT for an S3-compatible server other than AWS)");
        }
    }

    /// <summary>
    /// Uploads <paramref name="files"/> (paths relative to <paramref name="folder"/>) under <paramref name="location"/>;
    /// returns how many parts each file went up in (1 for a single request).
    /// </summary>
    public async Task<Dictionary<string, int>> UploadAsync(S3Destination location, int version, string folder, IEnumerable<string> files, CancellationToken ct)
    {
        EnsureConfigured();
        var config = new AmazonS3Config
        {
            AuthenticationRegion = Setting("AWS_REGION") ?? "us-east-1",
            // Checksums only where the service requires them: compatible servers do not all read trailing checksums.
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        };
        if (Setting("PLUMBLINE_S3_ENDPOINT") is { } endpoint)
        {
            config.ServiceURL = endpoint;
            config.ForcePathStyle = true;
        }
        else
        {
            config.RegionEndpoint = Amazon.RegionEndpoint.GetBySystemName(config.AuthenticationRegion);
        }
        var partSize = PartSize;
        var parts = new Dictionary<string, int>(StringComparer.Ordinal);
        using var client = new AmazonS3Client(new BasicAWSCredentials(Setting("AWS_ACCESS_KEY_ID"), Setting("AWS_SECRET_ACCESS_KEY")), config);
        foreach (var path in files)
        {
            var full = Path.Combine(folder, path);
            var key = location.KeyOf(version, path);
            try
            {
                if (new FileInfo(full).Length <= partSize)
                {
                    await client.PutObjectAsync(new PutObjectRequest
                    {
                        BucketName = location.Bucket, Key = key, FilePath = full, UseChunkEncoding = false, ContentType = ContentType(path),
                    }, ct);
                    parts[path] = 1;
                }
                else
                {
                    parts[path] = await MultipartAsync(client, location.Bucket, key, full, ct);
                }
            }
            catch (AmazonServiceException ex)
            {
                throw new ReleaseStorageException($"could not upload {path} to s3://{location.Bucket}/{key}: {ex.Message}", ex);
            }
            catch (HttpRequestException ex)
            {
                throw new ReleaseStorageException($"could not reach the S3 endpoint for s3://{location.Bucket}/{key}: {ex.Message}", ex);
            }
        }
        return parts;
    }

    private async Task<int> MultipartAsync(AmazonS3Client client, string bucket, string key, string file, CancellationToken ct)
    {
        var partSize = PartSize;
        var start = await client.InitiateMultipartUploadAsync(new InitiateMultipartUploadRequest { BucketName = bucket, Key = key, ContentType = ContentType(file) }, ct);
        try
        {
            var parts = new List<PartETag>();
            var length = new FileInfo(file).Length;
            for (long offset = 0, number = 1; offset < length; offset += partSize, number++)
            {
                var size = Math.Min(partSize, length - offset);
                var part = await client.UploadPartAsync(new UploadPartRequest
                {
                    BucketName = bucket, Key = key, UploadId = start.UploadId, PartNumber = (int)number, FilePath = file, FilePosition = offset,
                    PartSize = size, IsLastPart = offset + size >= length, UseChunkEncoding = false,
                }, ct);
                parts.Add(new PartETag { PartNumber = (int)number, ETag = part.ETag });
            }
            await client.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
            {
                BucketName = bucket, Key = key, UploadId = start.UploadId, PartETags = parts,
            }, ct);
            return parts.Count;
        }
        catch
        {
            await client.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = bucket, Key = key, UploadId = start.UploadId }, CancellationToken.None);
            throw;
        }
    }

    private static string ContentType(string path) => Path.GetExtension(path) switch
    {
        ".jsonl" => "application/x-ndjson",
        ".json" => "application/json",
        ".csv" => "text/csv; charset=utf-8",
        ".md" => "text/markdown; charset=utf-8",
        _ => "application/octet-stream",
    };
}
