using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using AuroraNexus.Grains.Storage;
using AuroraNexus.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Minio;
using Minio.DataModel.Args;

namespace AuroraNexus.Tests.Storage;

/// <summary>What every object store must do; one subclass per adapter.</summary>
public abstract class ObjectStoreContract
{
    protected abstract IObjectStore Store { get; }

    private static string NewKey() => $"tenant-{Guid.NewGuid():N}/{Guid.NewGuid():N}";

    [Fact]
    public async Task Stored_bytes_read_back_whole_and_identical()
    {
        var bytes = RandomNumberGenerator.GetBytes(3 * 1024 * 1024 + 17);
        var key = NewKey();
        await Store.PutAsync(key, new MemoryStream(bytes), CancellationToken.None);

        await using var read = await Store.OpenReadAsync(key, CancellationToken.None);
        using var copy = new MemoryStream();
        await read.CopyToAsync(copy);
        Assert.Equal(bytes, copy.ToArray());
    }

    [Fact]
    public async Task A_stream_without_a_length_is_stored_too()
    {
        var key = NewKey();
        await Store.PutAsync(key, new ForwardOnlyStream(Encoding.UTF8.GetBytes("Délai de rétractation : 14 jours.")), CancellationToken.None);

        Assert.Equal("Délai de rétractation : 14 jours.", await ReadTextAsync(key));
    }

    [Fact]
    public async Task A_large_stream_without_a_length_is_stored_whole()
    {
        // Larger than one S3 part (5 MiB): the S3 store sends it as a multipart upload from its spool file.
        var bytes = RandomNumberGenerator.GetBytes(12 * 1024 * 1024 + 5);
        var key = NewKey();
        await Store.PutAsync(key, new ForwardOnlyStream(bytes), CancellationToken.None);

        await using var read = await Store.OpenReadAsync(key, CancellationToken.None);
        using var copy = new MemoryStream();
        await read.CopyToAsync(copy);
        Assert.Equal(SHA256.HashData(bytes), SHA256.HashData(copy.ToArray()));
        Assert.Equal(bytes.Length, copy.Length);
    }

    [Fact]
    public async Task Putting_the_same_key_again_replaces_the_object()
    {
        var key = NewKey();
        await Store.PutAsync(key, new MemoryStream(Encoding.UTF8.GetBytes("first version, longer than the second")), CancellationToken.None);
        await Store.PutAsync(key, new MemoryStream(Encoding.UTF8.GetBytes("second")), CancellationToken.None);

        Assert.Equal("second", await ReadTextAsync(key));
    }

    [Fact]
    public async Task A_missing_object_is_FileNotFound_naming_the_key()
    {
        var key = NewKey();
        var error = await Assert.ThrowsAsync<FileNotFoundException>(() => Store.OpenReadAsync(key, CancellationToken.None));
        Assert.Contains(key, error.Message);
    }

    [Fact]
    public async Task A_deleted_object_is_gone_and_deleting_again_is_not_an_error()
    {
        var key = NewKey();
        var other = NewKey();
        await Store.PutAsync(key, new MemoryStream([1, 2, 3]), CancellationToken.None);
        await Store.PutAsync(other, new MemoryStream([4, 5, 6]), CancellationToken.None);

        await Store.DeleteAsync(key, CancellationToken.None);
        await Store.DeleteAsync(key, CancellationToken.None);

        await Assert.ThrowsAsync<FileNotFoundException>(() => Store.OpenReadAsync(key, CancellationToken.None));
        await using var kept = await Store.OpenReadAsync(other, CancellationToken.None);
        Assert.Equal(4, kept.ReadByte());
    }

    [Fact]
    public async Task The_probe_of_a_working_store_is_ok()
    {
        var probe = await Store.ProbeAsync(CancellationToken.None);
        Assert.True(probe.IsOk, probe.Message);
        Assert.Equal(Store.Describe, probe.Message);
    }

    private async Task<string> ReadTextAsync(string key)
    {
        await using var read = await Store.OpenReadAsync(key, CancellationToken.None);
        using var reader = new StreamReader(read, Encoding.UTF8);
        return await reader.ReadToEndAsync();
    }

    /// <summary>Like a network body: no length, no seeking.</summary>
    private sealed class ForwardOnlyStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }
    }
}

public sealed class LocalObjectStoreContractTests : ObjectStoreContract, IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "nexus-objects-" + Guid.NewGuid().ToString("N"));
    private readonly LocalObjectStore _store;

    public LocalObjectStoreContractTests() => _store = new LocalObjectStore(_root);

    protected override IObjectStore Store => _store;

    public void Dispose() => Directory.Delete(_root, recursive: true);
}

[CollectionDefinition("s3rver")]
public sealed class S3rverCollection : ICollectionFixture<S3rverFixture>;

/// <summary>One s3rver for the S3 tests; each test class uses its own buckets.</summary>
public sealed class S3rverFixture : IAsyncLifetime
{
    private S3rverProcess? _server;

    public Uri Endpoint => _server!.Endpoint;

    public async Task InitializeAsync() => _server = await S3rverProcess.StartAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    public S3StoreOptions Options(string? accessKey = null, string? uploads = null, string? artifacts = null) => new(
        Endpoint, accessKey ?? S3rverProcess.AccessKey, S3rverProcess.SecretKey,
        uploads ?? "up-" + Guid.NewGuid().ToString("N")[..12], artifacts ?? "art-" + Guid.NewGuid().ToString("N")[..12]);

    public IMinioClient RawClient() => new MinioClient()
        .WithEndpoint(Endpoint.Host, Endpoint.Port)
        .WithCredentials(S3rverProcess.AccessKey, S3rverProcess.SecretKey)
        .WithSSL(false)
        .Build();
}

[Collection("s3rver")]
public sealed class S3ObjectStoreContractTests : ObjectStoreContract, IAsyncLifetime
{
    private readonly S3rverFixture _s3;
    private readonly S3ObjectStore _store;

    public S3ObjectStoreContractTests(S3rverFixture s3)
    {
        _s3 = s3;
        _store = new S3ObjectStore(s3.Options(), NullLogger<S3ObjectStore>.Instance);
    }

    protected override IObjectStore Store => _store;

    public Task InitializeAsync() => _store.EnsureBucketsAsync(CancellationToken.None);

    public Task DisposeAsync()
    {
        _store.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Both_buckets_are_created_once_and_creating_them_again_is_harmless()
    {
        var options = _s3.Options();
        using var first = new S3ObjectStore(options, NullLogger<S3ObjectStore>.Instance);
        using var second = new S3ObjectStore(options, NullLogger<S3ObjectStore>.Instance);
        await first.EnsureBucketsAsync(CancellationToken.None);
        await second.EnsureBucketsAsync(CancellationToken.None);
        await first.EnsureBucketsAsync(CancellationToken.None);

        using var raw = _s3.RawClient();
        Assert.True(await raw.BucketExistsAsync(new BucketExistsArgs().WithBucket(options.UploadsBucket)));
        Assert.True(await raw.BucketExistsAsync(new BucketExistsArgs().WithBucket(options.ArtifactsBucket)));
        await second.PutAsync("t/one", new MemoryStream([7]), CancellationToken.None);
        await using var read = await first.OpenReadAsync("t/one", CancellationToken.None);
        Assert.Equal(7, read.ReadByte());
    }

    [Fact]
    public async Task An_upload_cut_off_or_refused_leaves_no_temporary_file_and_no_object()
    {
        var spool = Directory.CreateTempSubdirectory("nexus-spool-test-").FullName;
        try
        {
            using var store = new S3ObjectStore(_s3.Options(), NullLogger<S3ObjectStore>.Instance, spool);
            await store.EnsureBucketsAsync(CancellationToken.None);
            await Assert.ThrowsAsync<IOException>(() => store.PutAsync("t/cut", new BreaksAfter(3 * 1024 * 1024), CancellationToken.None));
            Assert.Empty(Directory.GetFiles(spool));
            await Assert.ThrowsAsync<FileNotFoundException>(() => store.OpenReadAsync("t/cut", CancellationToken.None));

            using var refused = new S3ObjectStore(_s3.Options(accessKey: "not-the-minio-user"), NullLogger<S3ObjectStore>.Instance, spool);
            await Assert.ThrowsAsync<ObjectStoreUnavailableException>(
                () => refused.PutAsync("t/refused", new BreaksAfter(long.MaxValue, 1024 * 1024), CancellationToken.None));
            Assert.Empty(Directory.GetFiles(spool));
        }
        finally
        {
            Directory.Delete(spool, recursive: true);
        }
    }

    /// <summary>A body without a length that gives <paramref name="limit"/> bytes of <paramref name="total"/>, then breaks like a dropped connection.</summary>
    private sealed class BreaksAfter(long limit, long total = long.MaxValue) : Stream
    {
        private long _sent;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (_sent >= total)
            {
                return 0;
            }

            if (_sent >= limit)
            {
                throw new IOException("the client went away");
            }

            var n = (int)Math.Min(count, Math.Min(limit, total) - _sent);
            buffer.AsSpan(offset, n).Fill(7);
            _sent += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    [Fact]
    public async Task A_read_object_is_held_in_a_temporary_file_removed_when_it_is_closed()
    {
        await _store.PutAsync("t/spooled", new MemoryStream(Encoding.UTF8.GetBytes("contenu")), CancellationToken.None);

        var read = await _store.OpenReadAsync("t/spooled", CancellationToken.None);
        var file = Assert.IsType<FileStream>(read).Name;
        Assert.True(File.Exists(file));
        using (var reader = new StreamReader(read, Encoding.UTF8, leaveOpen: true))
        {
            Assert.Equal("contenu", await reader.ReadToEndAsync());
        }

        await read.DisposeAsync();
        Assert.False(File.Exists(file));
    }

    [Fact]
    public async Task An_unknown_access_key_shows_in_the_probe_and_fails_uploads_naming_the_variables()
    {
        using var store = new S3ObjectStore(_s3.Options(accessKey: "not-the-minio-user"), NullLogger<S3ObjectStore>.Instance);

        var probe = await store.ProbeAsync(CancellationToken.None);
        Assert.True(probe.IsError);
        Assert.Contains("refused the credentials", probe.Message);
        Assert.Contains("MINIO_ROOT_USER", probe.Message);

        var error = await Assert.ThrowsAsync<ObjectStoreUnavailableException>(
            () => store.PutAsync("t/doc", new MemoryStream([1]), CancellationToken.None));
        Assert.Equal("object_store_unavailable", error.Code);
        Assert.Contains("MINIO_ROOT_PASSWORD", error.Message);
    }

    [Fact]
    public async Task A_bucket_removed_after_start_shows_in_the_probe_and_fails_uploads_and_reads()
    {
        var options = _s3.Options();
        using var store = new S3ObjectStore(options, NullLogger<S3ObjectStore>.Instance);
        await store.EnsureBucketsAsync(CancellationToken.None);
        using (var raw = _s3.RawClient())
        {
            await raw.RemoveBucketAsync(new RemoveBucketArgs().WithBucket(options.UploadsBucket));
        }

        var probe = await store.ProbeAsync(CancellationToken.None);
        Assert.True(probe.IsError);
        Assert.Contains($"bucket {options.UploadsBucket} does not exist", probe.Message);
        Assert.Contains("S3_BUCKET_UPLOADS", probe.Message);

        var put = await Assert.ThrowsAsync<ObjectStoreUnavailableException>(
            () => store.PutAsync("t/doc", new MemoryStream([1]), CancellationToken.None));
        Assert.Contains($"bucket {options.UploadsBucket} does not exist", put.Message);
        await Assert.ThrowsAsync<ObjectStoreUnavailableException>(() => store.OpenReadAsync("t/doc", CancellationToken.None));
    }

    [Fact]
    public async Task An_unreachable_server_shows_in_the_probe_and_fails_uploads_naming_S3_ENDPOINT()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var closedPort = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        using var store = new S3ObjectStore(
            _s3.Options() with { Endpoint = new Uri($"http://127.0.0.1:{closedPort}") }, NullLogger<S3ObjectStore>.Instance);

        var probe = await store.ProbeAsync(CancellationToken.None);
        Assert.True(probe.IsError);
        Assert.Contains("unreachable", probe.Message);
        Assert.Contains("S3_ENDPOINT", probe.Message);
        var error = await Assert.ThrowsAsync<ObjectStoreUnavailableException>(
            () => store.PutAsync("t/doc", new MemoryStream([1]), CancellationToken.None));
        Assert.Contains("S3_ENDPOINT", error.Message);
    }

    [Fact]
    public async Task A_store_that_was_down_at_start_creates_its_buckets_when_probed_later()
    {
        var options = _s3.Options();
        using var store = new S3ObjectStore(options, NullLogger<S3ObjectStore>.Instance);

        var probe = await store.ProbeAsync(CancellationToken.None);

        Assert.True(probe.IsOk, probe.Message);
        await store.PutAsync("t/late", new MemoryStream([9]), CancellationToken.None);
        await using var read = await store.OpenReadAsync("t/late", CancellationToken.None);
        Assert.Equal(9, read.ReadByte());
    }
}
