using System.Security.Cryptography;

namespace AuroraNexus.WebFront.Api;

/// <summary>The request body went over NEXUS_MAX_UPLOAD_BYTES while it was being read.</summary>
public sealed class UploadTooLargeException(long limit)
    : IOException($"the upload is larger than NEXUS_MAX_UPLOAD_BYTES ({limit} bytes)")
{
    public long Limit { get; } = limit;
}

/// <summary>Byte budget of one request, shared by its file parts.</summary>
public sealed class UploadBudget(long limit)
{
    public long Limit { get; } = limit;

    public long Read { get; private set; }

    public void Take(int bytes)
    {
        Read += bytes;
        if (Read > Limit)
        {
            throw new UploadTooLargeException(Limit);
        }
    }
}

/// <summary>
/// Reads one uploaded file part on its way to the object store, hashing (SHA-256) and counting it as it goes, so
/// that a file is read once, never held in memory, and an upload over the limit stops at the first byte too many.
/// </summary>
public sealed class UploadStream(Stream inner, UploadBudget budget) : Stream
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    public long Length64 { get; private set; }

    public string Sha256Hex() => Convert.ToHexStringLower(_hash.GetCurrentHash());

    public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count), buffer.AsSpan(offset));

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var n = await inner.ReadAsync(buffer, cancellationToken);
        return Count(n, buffer.Span);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    private int Count(int n, ReadOnlySpan<byte> data)
    {
        if (n > 0)
        {
            budget.Take(n);
            _hash.AppendData(data[..n]);
            Length64 += n;
        }

        return n;
    }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => Length64; set => throw new NotSupportedException(); }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _hash.Dispose();
        }

        base.Dispose(disposing);
    }
}
