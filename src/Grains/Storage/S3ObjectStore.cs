using System.Net.Sockets;
using AuroraNexus.Grains.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Minio;
using Minio.DataModel.Args;
using Minio.Exceptions;

namespace AuroraNexus.Grains.Storage;

/// <summary>Where the S3 object store is and who we are to it (S3_ENDPOINT, S3_BUCKET_*, MINIO_ROOT_*).</summary>
public sealed record S3StoreOptions(Uri Endpoint, string AccessKey, string SecretKey, string UploadsBucket, string ArtifactsBucket)
{
    public override string ToString() => $"S3 {Endpoint} (buckets {UploadsBucket}, {ArtifactsBucket})";
}

/// <summary>
/// Production object store: MinIO (or any S3 server) through the Minio SDK. Uploads go to the uploads bucket; both
/// buckets are created at start when missing. Only whole-object calls are issued: the served SDK version mishandles
/// ranged GETs, and listing is never needed (keys come from the database).
/// </summary>
public sealed partial class S3ObjectStore : IObjectStore, IDisposable
{
    private readonly S3StoreOptions _options;
    private readonly IMinioClient _client;
    private readonly ILogger _logger;
    private readonly string _spoolDirectory;
    private volatile bool _bucketsEnsured;

    /// <param name="spoolDirectory">Where uploads and reads are spooled (the system's temporary directory by default).</param>
    public S3ObjectStore(S3StoreOptions options, ILogger<S3ObjectStore> logger, string? spoolDirectory = null)
    {
        _options = options;
        _logger = logger;
        _spoolDirectory = spoolDirectory ?? Path.GetTempPath();
        var endpoint = options.Endpoint;
        _client = new MinioClient()
            .WithEndpoint(endpoint.Host, endpoint.Port)
            .WithCredentials(options.AccessKey, options.SecretKey)
            .WithSSL(endpoint.Scheme == "https")
            .WithTimeout(30_000)
            .Build();
    }

    public string Describe => _options.ToString();

    /// <summary>Creates the buckets that do not exist yet; safe to call from every process at once.</summary>
    public async Task EnsureBucketsAsync(CancellationToken cancellationToken)
    {
        foreach (var bucket in new[] { _options.UploadsBucket, _options.ArtifactsBucket }.Distinct())
        {
            await Guard(async () =>
            {
                if (!await _client.BucketExistsAsync(new BucketExistsArgs().WithBucket(bucket), cancellationToken))
                {
                    try
                    {
                        await _client.MakeBucketAsync(new MakeBucketArgs().WithBucket(bucket), cancellationToken);
                        LogBucketCreated(_logger, bucket, _options.Endpoint);
                    }
                    catch (MinioException ex) when (ErrorCode(ex) is "BucketAlreadyOwnedByYou" or "BucketAlreadyExists")
                    {
                        // Another process created it between the check and the call.
                    }
                }
            }, bucket, key: null);
        }

        _bucketsEnsured = true;
    }

    public async Task PutAsync(string key, Stream content, CancellationToken cancellationToken)
    {
        Stream body = content;
        FileStream? spool = null;
        try
        {
            if (!content.CanSeek)
            {
                // The SDK needs the length up front (one PUT, or a multipart upload of bounded parts for a large object):
                // an upload read as it arrives is spooled to a temporary file first, so memory stays bounded whatever
                // its size. Refused or cut off while spooling, the file goes with the finally below.
                spool = Spool();
                await content.CopyToAsync(spool, cancellationToken);
                spool.Position = 0;
                body = spool;
            }

            if (body.Length - body.Position > PartCollectionInterval)
            {
                body = CollectingSpentParts(body);
            }

            var length = body.Length - body.Position;
            await Guard(() => _client.PutObjectAsync(new PutObjectArgs()
                .WithBucket(_options.UploadsBucket)
                .WithObject(key)
                .WithStreamData(body)
                .WithObjectSize(length)
                .WithContentType("application/octet-stream"), cancellationToken), _options.UploadsBucket, key);
        }
        finally
        {
            if (spool is not null)
            {
                await spool.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// The object, read whole into a temporary file that is removed when the stream is closed: the served SDK hands
    /// the body to a callback that must consume it, and a ranged GET cannot be trusted, so the object is not held in memory.
    /// </summary>
    public async Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken)
    {
        var spool = Spool();
        try
        {
            await Guard(() => _client.GetObjectAsync(new GetObjectArgs()
                .WithBucket(_options.UploadsBucket)
                .WithObject(key)
                .WithCallbackStream(async (stream, ct) => await stream.CopyToAsync(spool, ct)), cancellationToken), _options.UploadsBucket, key);
            spool.Position = 0;
            return spool;
        }
        catch
        {
            await spool.DisposeAsync();
            throw;
        }
    }

    /// <summary>How much of a large object is sent between two collections of the SDK's spent part buffers.</summary>
    private const long PartCollectionInterval = 16L * 1024 * 1024;

    /// <summary>
    /// The served SDK reads a large object in parts of 16 MiB, each into a new array that is garbage once sent: left to
    /// the collector's own pace, a 300 MB upload leaves about 300 MB of spent parts in the large object heap. Reading
    /// through this stream collects them every <see cref="PartCollectionInterval"/>, so an upload holds a few parts at most.
    /// </summary>
    private static ReadObservingStream CollectingSpentParts(Stream body)
    {
        var next = PartCollectionInterval;
        return new ReadObservingStream(body, (total, _) =>
        {
            if (total >= next)
            {
                next = total + PartCollectionInterval;
                GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: false);
            }
        }, ownsInner: false);
    }

    /// <summary>A temporary file only this stream sees, deleted when it is closed (also when the process dies on Linux once closed).</summary>
    private FileStream Spool() => new(
        Path.Combine(_spoolDirectory, $"nexus-s3-{Guid.NewGuid():N}.part"),
        FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, bufferSize: 81920,
        FileOptions.DeleteOnClose | FileOptions.Asynchronous | FileOptions.SequentialScan);

    public async Task DeleteAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            await Guard(() => _client.RemoveObjectAsync(
                new RemoveObjectArgs().WithBucket(_options.UploadsBucket).WithObject(key), cancellationToken), _options.UploadsBucket, key);
        }
        catch (FileNotFoundException)
        {
            // Already gone: deleting is idempotent.
        }
    }

    public async Task<ComponentProbe> ProbeAsync(CancellationToken cancellationToken)
    {
        try
        {
            if (!_bucketsEnsured)
            {
                // Start-up could not create them (the server was down then): try again now that someone asks.
                await EnsureBucketsAsync(cancellationToken);
            }

            foreach (var bucket in new[] { _options.UploadsBucket, _options.ArtifactsBucket }.Distinct())
            {
                var exists = await Guard(() => _client.BucketExistsAsync(new BucketExistsArgs().WithBucket(bucket), cancellationToken), bucket, null);
                if (!exists)
                {
                    return ComponentProbe.Error(MissingBucket(bucket));
                }
            }

            return ComponentProbe.Ok(Describe);
        }
        catch (ObjectStoreUnavailableException ex)
        {
            return ComponentProbe.Error(ex.Message);
        }
    }

    public void Dispose() => _client.Dispose();

    private Task Guard(Func<Task> call, string bucket, string? key) => Guard(async () =>
    {
        await call();
        return true;
    }, bucket, key);

    /// <summary>Turns the SDK's and the network's failures into the two the product knows: missing object, store unavailable.</summary>
    private async Task<T> Guard<T>(Func<Task<T>> call, string bucket, string? key)
    {
        try
        {
            return await call();
        }
        catch (ObjectNotFoundException ex) when (key is not null)
        {
            throw new FileNotFoundException($"object '{key}' is missing from bucket {bucket} at {_options.Endpoint}", ex);
        }
        catch (Exception ex) when (Unavailable(ex, bucket) is { } message)
        {
            throw new ObjectStoreUnavailableException(message, ex);
        }
        catch (MinioException ex) when (key is not null && ErrorCode(ex) is "NoSuchKey")
        {
            throw new FileNotFoundException($"object '{key}' is missing from bucket {bucket} at {_options.Endpoint}", ex);
        }
    }

    private string? Unavailable(Exception ex, string bucket)
    {
        var code = ex is MinioException m ? ErrorCode(m) : null;
        if (ex is BucketNotFoundException || code == "NoSuchBucket")
        {
            return MissingBucket(bucket);
        }

        if (ex is AuthorizationException or AccessDeniedException or ForbiddenException ||
            code is "InvalidAccessKeyId" or "SignatureDoesNotMatch" or "AccessDenied" or "InvalidToken" or "ExpiredToken")
        {
            return $"the object store at {_options.Endpoint} refused the credentials ({code ?? ex.GetType().Name}): " +
                "MINIO_ROOT_USER and MINIO_ROOT_PASSWORD must be the ones MinIO was started with";
        }

        if (ex is ConnectionException or HttpRequestException or SocketException or TimeoutException ||
            ex is TaskCanceledException && ex.InnerException is TimeoutException ||
            ex.InnerException is HttpRequestException or SocketException)
        {
            return $"the object store at {_options.Endpoint} is unreachable ({ex.GetType().Name}): check S3_ENDPOINT and that MinIO runs";
        }

        return ex is MinioException and not ObjectNotFoundException && code is not "NoSuchKey"
            ? $"the object store at {_options.Endpoint} failed ({code ?? ex.GetType().Name}: {Shorten(ex.Message)}); check the MinIO server logs"
            : null;
    }

    private string MissingBucket(string bucket) =>
        $"bucket {bucket} does not exist at {_options.Endpoint}: it is created at start, so restart a node, or create it " +
        $"(`mc mb nexus/{bucket}`); check S3_BUCKET_UPLOADS / S3_BUCKET_ARTIFACTS";

    private static string? ErrorCode(MinioException ex) => string.IsNullOrEmpty(ex.Response?.Code) ? null : ex.Response.Code;

    private static string Shorten(string text) => text.Length <= 200 ? text : text[..200] + "…";

    [LoggerMessage(Level = LogLevel.Information, Message = "Created bucket {Bucket} at {Endpoint}")]
    private static partial void LogBucketCreated(ILogger logger, string bucket, Uri endpoint);
}
